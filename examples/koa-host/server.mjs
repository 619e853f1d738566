// A Koa host that serves node-oidc-provider at the root and adds magic-link sign-in to it.
// Its accounts are its own (a Map here); the provider keeps node-oidc-provider's memory adapter.
//   npm install oidc-magic-link oidc-provider koa koa-mount
//   SMTP_URL=smtp://localhost:1025 node server.mjs
import Koa from 'koa';
import mount from 'koa-mount';
import Provider from 'oidc-provider';
import { magicLink } from 'oidc-magic-link';

const port = Number(process.env.PORT ?? 3000);
const issuer = process.env.ISSUER ?? `http://localhost:${port}`;
const cookieKeys = [process.env.COOKIE_KEY ?? 'example-cookie-key-change-me-now'];

// The host's own users. Ada has an authenticator app (TOTP) when ADA_TOTP_SECRET is set.
const users = [
  { id: 'u-ada', email: 'ada@example.com', name: 'Ada Lovelace', totpSecret: process.env.ADA_TOTP_SECRET },
  { id: 'u-grace', email: 'grace@example.com', name: 'Grace Hopper' },
];
const userById = (id) => users.find((user) => user.id === id);
const userByEmail = (email) => users.find((user) => user.email === email.trim().toLowerCase());
const asAccount = (user) => user && { accountId: user.id, email: user.email, firstName: user.name.split(' ')[0] };

const ml = magicLink({
  // Who may receive a link; undefined sends nothing (and the page looks the same).
  findAccountByEmail: async (email) => asAccount(userByEmail(email)),
  // Asked again when the link is used: a user removed meanwhile cannot finish.
  findAccountById: async (id) => asAccount(userById(id)),
  mail: { smtpUrl: process.env.SMTP_URL ?? 'smtp://localhost:1025', from: 'Example <no-reply@example.com>' },
  secondFactor: { secretOf: async (id) => userById(id)?.totpSecret },
});

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'example-app',
      client_secret: process.env.CLIENT_SECRET ?? 'example-app-secret-change-me',
      redirect_uris: [process.env.REDIRECT_URI ?? 'http://localhost:8080/callback'],
      grant_types: ['authorization_code'],
      client_name: 'Example app',
    },
  ],
  async findAccount(_ctx, sub) {
    const user = userById(sub);
    if (!user) return undefined;
    return { accountId: user.id, claims: () => ({ sub: user.id, email: user.email, email_verified: true, name: user.name }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: cookieKeys },
  features: { devInteractions: { enabled: false } },
  interactions: ml.interactions(),
});
ml.mount(provider);

const app = new Koa();
// Mounted, the provider sets its signed cookies through this app: it needs the same keys.
app.keys = cookieKeys;
app.use(mount(provider));
const server = app.listen(port, () => console.log(`koa host listening: ${issuer}`));

process.once('SIGTERM', () => server.close(() => ml.close().then(() => process.exit(0))));
