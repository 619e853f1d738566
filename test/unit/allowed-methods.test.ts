import Router from '@koa/router';
import { expect } from 'chai';
import { allowedMethods } from '../../src/http/allowed-methods.js';

describe('allowedMethods (the Allow header of a 405)', () => {
  const noop = () => undefined;

  it('lists, sorted, every method the routers answer at a path, whatever the routers and their prefixes', () => {
    const api = new Router({ prefix: '/api', sensitive: true });
    api.post('/user/:userId', noop).get('/user/:userId', noop).patch('/user/:userId', noop).delete('/user/:userId', noop);
    api.use(noop);
    expect(allowedMethods([api], '/api/user/42')).to.deep.equal(['DELETE', 'GET', 'HEAD', 'PATCH', 'POST']);

    const signIn = new Router({ prefix: '/interaction/:uid' });
    signIn.post('/email', noop);
    const twoFactor = new Router({ prefix: '/interaction/:uid' });
    twoFactor.get('/', noop).post('/', noop);
    expect(allowedMethods([signIn, twoFactor], '/interaction/abc/email')).to.deep.equal(['POST']);
    expect(allowedMethods([signIn, twoFactor], '/interaction/abc')).to.deep.equal(['GET', 'HEAD', 'POST']);
  });

  it('lists none where no route has the path (a 404, not a 405)', () => {
    const api = new Router({ prefix: '/api', sensitive: true });
    api.post('/user', noop);
    api.use(noop);
    expect(allowedMethods([api], '/api/nothing')).to.deep.equal([]);
    expect(allowedMethods([api], '/API/user')).to.deep.equal([]);
  });
});
