"""A Python relying party, set up as Authlib's documentation shows, against a running server.

Drives the hosted sign-in as a browser would (requests' cookie jar; the link from the dev
mailbox's JSON), then: the code exchange with PKCE S256, ID token validation with Authlib's JOSE
against the JWKS (signature, iss, aud, nonce), userinfo, refresh exactly as Authlib sends it by
default, revocation, and RP-initiated logout. Prints one JSON object with what it saw; any
failure is an exception (exit status 1), the test reads both.

Usage: authlib_rp.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI EMAIL
"""

import html
import json
import re
import sys
import time
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

issuer, client_id, client_secret, redirect_uri, post_logout_uri, email = sys.argv[1:7]
SCOPE = "openid email profile offline_access"

metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert metadata["issuer"] == issuer, metadata["issuer"]

client = OAuth2Session(client_id, client_secret, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256")
code_verifier = generate_token(48)
nonce = generate_token(20)
uri, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce)

browser = requests.Session()


def follow(response):
    """Follows redirects by hand until the client's redirect URI (which is not fetched)."""
    for _ in range(20):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response, None
        location = urljoin(response.url, response.headers["location"])
        if location.startswith(redirect_uri) or location.startswith(post_logout_uri):
            return response, location
        response = browser.get(location, allow_redirects=False, timeout=10)
    raise RuntimeError("too many redirects")


def form_of(page_html, action_part):
    """The action and hidden fields of the first form whose action contains action_part."""
    for form in re.findall(r"<form[\s\S]*?</form>", page_html):
        action = re.search(r'action="([^"]*)"', form)
        if not action or action_part not in action.group(1):
            continue
        hidden = {}
        for field in re.findall(r"<input[^>]*>", form):
            name = re.search(r'name="([^"]*)"', field)
            value = re.search(r'value="([^"]*)"', field)
            if name and ('type="hidden"' in field or "type='hidden'" in field):
                hidden[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
        return html.unescape(action.group(1)), hidden
    raise RuntimeError(f"no form with {action_part}")


# The sign-in: the email form, "check your inbox", the link from the dev mailbox.
page, _ = follow(browser.get(uri, allow_redirects=False, timeout=10))
action, fields = form_of(page.text, "/email")
fields["email"] = email
inbox = browser.post(urljoin(page.url, action), data=fields, allow_redirects=True, timeout=10)
assert inbox.status_code == 200, inbox.status_code
def newest_mail_to(address):
    """The mail is sent off the request path: ask the dev mailbox until it is there."""
    for _ in range(100):
        found = [m for m in requests.get(f"{issuer}/dev/mail.json", timeout=10).json() if m["to"] == address]
        if found:
            return found[0]
        time.sleep(0.05)
    raise RuntimeError("no email arrived")


mail = newest_mail_to(email)
link = re.search(r"(https?://\S+/interaction/\S+/magic/[\w-]+)", mail["text"]).group(1)
_, callback = follow(browser.get(link, allow_redirects=False, timeout=10))
assert callback and callback.startswith(redirect_uri), callback

# The code exchange with PKCE, and the ID token checked against the JWKS.
token = client.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=code_verifier)
jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
claims = jwt.decode(
    token["id_token"],
    jwks,
    claims_options={"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id}, "nonce": {"essential": True, "value": nonce}},
)
claims.validate()
userinfo = client.get(metadata["userinfo_endpoint"]).json()

# The refresh as Authlib sends it by default (it repeats the session's scope).
refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
refreshed_claims = jwt.decode(refreshed["id_token"], jwks, claims_options={"iss": {"value": issuer}, "aud": {"value": client_id}})
refreshed_claims.validate()

# Revocation of the newest refresh token: a refresh with it is then refused.
revoked = client.revoke_token(metadata["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token")
after_revocation = requests.post(
    metadata["token_endpoint"],
    data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
    auth=(client_id, client_secret),
    timeout=10,
)

# RP-initiated logout: the end-session page, its "yes", back to the post-logout URI.
logout_url = f"{metadata['end_session_endpoint']}?" + requests.compat.urlencode(
    {"id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": post_logout_uri, "client_id": client_id}
)
logout_page, _ = follow(browser.get(logout_url, allow_redirects=False, timeout=10))
action, fields = form_of(logout_page.text, "/session/end")
fields["logout"] = "yes"
_, logged_out = follow(browser.post(urljoin(logout_page.url, action), data=fields, allow_redirects=False, timeout=10))

print(
    json.dumps(
        {
            "authlib": __import__("authlib").__version__,
            "requests": requests.__version__,
            "scope": token.get("scope"),
            "claims": {k: claims.get(k) for k in ("sub", "email", "email_verified", "amr")},
            "userinfo_email": userinfo.get("email"),
            "refreshed_scope": refreshed.get("scope"),
            "refreshed_claims": {k: refreshed_claims.get(k) for k in ("sub", "email", "email_verified")},
            "refresh_rotated": refreshed["refresh_token"] != token["refresh_token"],
            "revocation_status": revoked.status_code,
            "after_revocation": after_revocation.json().get("error"),
            "logged_out_to": logged_out,
        }
    )
)
