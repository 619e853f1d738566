import { expect } from 'chai';
import { browserMessage, describeBrowser, describeNetwork, networkMessage } from '../../src/interaction/request-context.js';

describe('request context (coarse description of the browser that asked)', () => {
  it('names browser and system without versions', () => {
    const cases: Array<[string, string]> = [
      ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36', 'Chrome on Linux'],
      ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0', 'Edge on Windows'],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari on macOS'],
      ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari on iOS'],
      ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
      ['Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0', 'Firefox on Linux'],
      ['LinkScanner/2.0', 'an unknown browser'],
      ['', 'an unknown browser'],
    ];
    for (const [ua, expected] of cases) expect(describeBrowser(ua), ua).to.equal(expected);
    expect(describeBrowser(undefined)).to.equal('an unknown browser');
  });

  it('keeps only the /24 of IPv4 and the /48 of IPv6', () => {
    expect(describeNetwork('203.0.113.77')).to.equal('203.0.113.x');
    expect(describeNetwork('::ffff:198.51.100.9')).to.equal('198.51.100.x');
    expect(describeNetwork('2001:db8:85a3:8d3:1319:8a2e:370:7348')).to.equal('2001:db8:85a3::/48');
    expect(describeNetwork('2001:0db8::1')).to.equal('2001:db8:0::/48');
    expect(describeNetwork('::1')).to.equal('0:0:0::/48');
    expect(describeNetwork('not an ip')).to.equal('an unknown network');
    expect(describeNetwork(undefined)).to.equal('an unknown network');
  });

  it('turns a stored description back into a catalogue message, keeping the names', () => {
    expect(browserMessage('Chrome on Linux')).to.deep.equal({ key: 'elsewhere.browserOn', vars: { browser: 'Chrome', system: 'Linux' } });
    expect(browserMessage('a browser on iOS')).to.deep.equal({ key: 'elsewhere.browserOnSystem', vars: { system: 'iOS' } });
    expect(browserMessage('an unknown browser')).to.deep.equal({ key: 'elsewhere.browserUnknown', vars: {} });
    expect(browserMessage('Firefox')).to.deep.equal({ key: 'elsewhere.browserName', vars: { browser: 'Firefox' } });
    expect(networkMessage('an unknown network')).to.deep.equal({ key: 'elsewhere.networkUnknown', vars: {} });
    expect(networkMessage('203.0.113.x')).to.deep.equal({ key: 'elsewhere.networkName', vars: { network: '203.0.113.x' } });
  });
});
