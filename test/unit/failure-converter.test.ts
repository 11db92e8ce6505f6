// The engine's failure converter: every failure message is sealed into a payload (the codec encrypts it), except a
// release's own end, whose headline the workflow marks as its own words so the Temporal UI can show it.
import { describe, expect, it } from 'vitest';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { failureConverter } from '../../workers/failure-converter.cjs';
import { readableReleaseFailure, releaseFailure } from '../../workflows/failures';

describe('failure converter', () => {
  it('seals a failure message; a release headline stays readable, and sealed as well', () => {
    const sealed = failureConverter.errorToFailure(
      releaseFailure('ApprovalRejected', 'rejected by bob: the numbers look wrong'),
      defaultPayloadConverter,
    );
    expect(sealed.message).toBe('Encoded failure');
    expect(JSON.stringify(sealed)).not.toContain('the numbers look wrong');

    const headline = 'hello@1.2.0 (release r1) rolled back as designed (CanaryFailed): 2 compensations ran';
    const readable = failureConverter.errorToFailure(
      readableReleaseFailure('CanaryFailed', headline, [{ reason: 'secret words' }]),
      defaultPayloadConverter,
    );
    expect(readable.message).toBe(headline);
    expect(readable.encodedAttributes).toBeDefined();
    // A client reads back the same message and type, and the details.
    const back = failureConverter.failureToError(readable, defaultPayloadConverter);
    expect(back).toBeInstanceOf(ApplicationFailure);
    expect(back.message).toBe(headline);
    expect((back as ApplicationFailure).type).toBe('CanaryFailed');
    expect((back as ApplicationFailure).details).toEqual([{ reason: 'secret words' }]);
  });
});
