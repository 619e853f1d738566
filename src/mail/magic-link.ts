import type { Views } from '../render/views.js';
import type { UserRecord } from '../storage/types.js';
import type { MailMessage } from './types.js';

/** Everything the magic-link email templates can use. */
export interface MagicLinkMailData {
  link: string;
  code: string | null;
  user: UserRecord;
  client: { id: string | null; name: string };
  state: Record<string, unknown> | null;
  expiresAt: Date;
  timeToLive: number;
  locale: string;
  issuer: string;
}

/** Renders subject, HTML and text of the magic-link email (theme-overridable views under email/). */
export async function composeMagicLinkMail(views: Views, data: MagicLinkMailData): Promise<MailMessage> {
  const [subject, html, text] = await Promise.all([
    views.render('email/magic-link-subject', { ...data }),
    views.render('email/magic-link-html', { ...data }),
    views.render('email/magic-link-text', { ...data }),
  ]);
  // A subject is one line: a template's stray newline must not become a header break.
  return { to: data.user.email, subject: subject.replace(/\s+/g, ' ').trim(), html, text };
}
