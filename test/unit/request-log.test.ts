import { expect } from 'chai';
import { redactPath } from '../../src/http/request-log.js';

describe('request log', () => {
  it('never logs a link code that travels in the path', () => {
    expect(redactPath('/interaction/abc123/magic/SECRETCODE')).to.equal('/interaction/abc123/magic/[redacted]');
    expect(redactPath('/passwordless/SECRETCODE')).to.equal('/passwordless/[redacted]');
    expect(redactPath('/interaction/abc123/email')).to.equal('/interaction/abc123/email');
  });
});
