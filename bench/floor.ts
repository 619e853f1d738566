/**
 * The floor: the least magic link possible on the same stack, what a team would write in an
 * afternoon. node-oidc-provider configured as the bare contender, an in-memory map from a random
 * link token to its sign-in, a one-line email page, the email sent with nodemailer (pooled) over
 * the same SMTP server as ours, and the link's GET finishing the sign-in directly. No hashing,
 * rate limits, CSRF, logging, templates or second look at the account: everything ours adds on
 * top of this is our overhead over it.
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import Provider from 'oidc-provider';
import type { ServerSpec } from './protocol.js';
import { contenderConfiguration, escapeHtml, listening, readForm, seedAccounts, serveInteractions } from './bare.js';

export async function startFloor(spec: ServerSpec) {
  if (!spec.smtpUrl) throw new Error('the floor sends its email over SMTP: give it the driver’s SMTP URL');
  const accounts = seedAccounts(spec.users);
  const { server, port, issuer } = await listening();
  const provider = new Provider(issuer, contenderConfiguration(spec, accounts));
  const callback = provider.callback();
  const mailer = nodemailer.createTransport({ url: spec.smtpUrl, pool: true });
  /** Link token → the sign-in it finishes and the account it signs in. */
  const links = new Map<string, { uid: string; accountId: string }>();

  const page = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Sign in</title>${body}`);
  };

  const routes = async (req: http.IncomingMessage, res: http.ServerResponse, uid: string, rest: string | undefined) => {
    if (req.method === 'GET' && rest === undefined) {
      return page(res, 200, `<form method="post" action="/interaction/${escapeHtml(uid)}/email"><input name="email" type="email"><button>Email me a link</button></form>`);
    }
    if (req.method === 'POST' && rest === 'email') {
      const email = (await readForm(req)).get('email') ?? '';
      page(res, 200, '<p>Check your inbox.</p>');
      const account = accounts.byEmail.get(email);
      if (!account) return;
      const token = randomBytes(32).toString('base64url');
      links.set(token, { uid, accountId: account.id });
      void mailer.sendMail({ from: 'no-reply@bench.test', to: email, subject: 'Your sign-in link', text: `${issuer}/interaction/${uid}/magic/${token}` });
      return;
    }
    const token = rest?.startsWith('magic/') ? rest.slice('magic/'.length) : null;
    const link = req.method === 'GET' && token ? links.get(token) : undefined;
    if (token && link && link.uid === uid) {
      links.delete(token);
      const returnTo = await provider.interactionResult(req, res, { login: { accountId: link.accountId, amr: ['email'] } });
      res.writeHead(303, { location: returnTo });
      res.end();
      return;
    }
    page(res, 400, '<p>That link does not work.</p>');
  };

  serveInteractions(server, callback, /^\/interaction\/([\w-]+)(?:\/(email|magic\/[\w-]+))?\/?$/, routes);

  return {
    issuer,
    port,
    store: 'oidc-provider memory adapter',
    stop: async () => {
      mailer.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
