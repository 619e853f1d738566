import { expect } from 'chai';
import { redactPath } from '../../src/http/request-log.js';

describe('request log', () => {
  it('never logs a link code that travels in the path', () => {
    expect(redactPath('/interaction/abc123/magic/SECRETCODE')).to.equal('/interaction/abc123/magic/[redacted]');
    expect(redactPath('/passwordless/SECRETCODE')).to.equal('/passwordless/[redacted]');
    expect(redactPath('/interaction/abc123/email')).to.equal('/interaction/abc123/email');
  });

  it('keeps the names of the REST API endpoints, and redacts anything else after passwordless', () => {
    for (const endpoint of ['start', 'send', 'login']) expect(redactPath(`/api/passwordless/${endpoint}`)).to.equal(`/api/passwordless/${endpoint}`);
    expect(redactPath('/api/passwordless/SECRETCODE')).to.equal('/api/passwordless/[redacted]');
    // Only there: after a link's own segments every name is redacted, even an endpoint's.
    expect(redactPath('/passwordless/start')).to.equal('/passwordless/[redacted]');
    expect(redactPath('/interaction/abc123/magic/login')).to.equal('/interaction/abc123/magic/[redacted]');
  });

  it('redacts whatever the letter case or percent-encoding of the segment before the code', () => {
    expect(redactPath('/interaction/abc123/Magic/SECRETCODE')).to.equal('/interaction/abc123/Magic/[redacted]');
    expect(redactPath('/PASSWORDLESS/SECRETCODE/')).to.equal('/PASSWORDLESS/[redacted]/');
    expect(redactPath('/interaction/abc123/%6Dagic/SECRETCODE')).to.equal('/interaction/abc123/%6Dagic/[redacted]');
    expect(redactPath('/passwordless%zz/NOTACODE')).to.equal('/passwordless%zz/NOTACODE');
  });
});
