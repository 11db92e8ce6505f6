// The release calendar (freeze windows), kept in the config store under /release-engine/calendar/windows/<id>.
import { z } from 'zod';
import { FreezeWindow, type ReleaseCalendar } from '../domain/calendar';
import type { ConfigStore } from './config-store/config-store';

export const CALENDAR_PATH = '/release-engine/calendar/windows';

export class CalendarStore {
  constructor(private readonly store: ConfigStore) {}

  /** Every freeze window. A stored window that no longer parses is reported, not skipped. */
  async load(): Promise<ReleaseCalendar> {
    const parameters = await this.store.getByPath(CALENDAR_PATH);
    const windows = parameters.map((p) => {
      const parsed = FreezeWindow.safeParse(JSON.parse(p.value));
      if (!parsed.success) throw new Error(`freeze window ${p.name} is invalid:\n${z.prettifyError(parsed.error)}`);
      return parsed.data;
    });
    return { windows: windows.sort((a, b) => a.id.localeCompare(b.id)) };
  }

  async put(window: FreezeWindow): Promise<void> {
    await this.store.put(`${CALENDAR_PATH}/${window.id}`, JSON.stringify(FreezeWindow.parse(window)), {
      overwrite: true,
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.store.delete(`${CALENDAR_PATH}/${id}`);
  }
}
