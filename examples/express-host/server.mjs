// An Express host that mounts node-oidc-provider at /oidc, keeps its own password page and
// offers "Email me a sign-in link" beside it. MongoDB when MONGODB_URI is set, else memory.
//   npm install oidc-magic-link oidc-provider express
//   SMTP_URL=smtp://localhost:1025 node server.mjs
import express from 'express';
import { MongoClient } from 'mongodb';
import Provider from 'oidc-provider';
import { magicLink } from 'oidc-magic-link';
import { MongoAdapter, mongoMagicLinkStore } from 'oidc-magic-link/mongodb';

const port = Number(process.env.PORT ?? 3000);
const issuer = process.env.ISSUER ?? `http://localhost:${port}/oidc`;
const mountPath = new URL(issuer).pathname;

const users = [{ id: 'u-ada', email: 'ada@example.com', name: 'Ada Lovelace', password: 'correct horse battery staple' }];
const userById = (id) => users.find((user) => user.id === id);
const asAccount = (user) => user && { accountId: user.id, email: user.email, firstName: user.name.split(' ')[0] };

const mongo = process.env.MONGODB_URI ? await new MongoClient(process.env.MONGODB_URI).connect() : null;
const db = mongo?.db();
const store = db ? mongoMagicLinkStore(db) : undefined;
if (db) await Promise.all([MongoAdapter.createIndexes(db), store.createIndexes()]);

const ml = magicLink({
  findAccountByEmail: async (email) => asAccount(users.find((user) => user.email === email.trim().toLowerCase())),
  findAccountById: async (id) => asAccount(userById(id)),
  mail: { smtpUrl: process.env.SMTP_URL ?? 'smtp://localhost:1025', from: 'Example <no-reply@example.com>' },
  ...(store ? { store } : {}),
});

const provider = new Provider(issuer, {
  ...(db ? { adapter: MongoAdapter.factory(db) } : {}),
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
    return user && { accountId: user.id, claims: () => ({ sub: user.id, email: user.email, email_verified: true, name: user.name }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: [process.env.COOKIE_KEY ?? 'example-cookie-key-change-me-now'] },
  features: { devInteractions: { enabled: false } },
  interactions: ml.interactions(),
});
ml.mount(provider);

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const hidden = (fields) => Object.entries(fields).map(([name, value]) => `<input type="hidden" name="${name}" value="${escape(value)}">`).join('');

const app = express();
// Our own login page, for the login prompt; other prompts (consent) go on to the plugin's pages.
app.get(`${mountPath}/interaction/:uid`, async (req, res, next) => {
  const details = await provider.interactionDetails(req, res).catch(() => null);
  if (!details || details.uid !== req.params.uid || details.prompt.name !== 'login') return next();
  const magic = ml.signInForm(details.uid);
  res.type('html').send(`<!doctype html><title>Sign in</title>
<h1>Sign in</h1>
<form method="post" action="${mountPath}/interaction/${details.uid}/password">
  <input name="email" type="email" placeholder="Email"> <input name="password" type="password" placeholder="Password">
  <button>Sign in</button>
</form>
<form method="${magic.method}" action="${escape(magic.action)}">${hidden(magic.fields)}
  <input name="${magic.emailField}" type="email" placeholder="Email"> <button>Email me a sign-in link</button>
</form>`);
});
app.post(`${mountPath}/interaction/:uid/password`, express.urlencoded({ extended: false }), async (req, res) => {
  const user = users.find((candidate) => candidate.email === String(req.body.email).toLowerCase() && candidate.password === req.body.password);
  if (!user) return res.status(401).type("text").send("Wrong email or password.");
  await provider.interactionFinished(req, res, { login: { accountId: user.id, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
});
app.use(mountPath, provider.callback());

const server = app.listen(port, () => console.log(`express host listening: ${issuer}`));
process.once('SIGTERM', () => server.close(async () => {
  await ml.close();
  await mongo?.close();
  process.exit(0);
}));
