// Writes deploy/ssm/documents/*.json from the shell scripts in deploy/ssm/scripts (npm run ssm:documents).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSsmDocuments, documentText, SSM_DIR } from '../providers/fleet/ssm-documents';

for (const [name, document] of Object.entries(buildSsmDocuments())) {
  writeFileSync(join(SSM_DIR, 'documents', `${name}.json`), documentText(document));
  console.log(`wrote deploy/ssm/documents/${name}.json`);
}
