"""The README's example of handing a colleague a token. As the README shows it, from the blank line on (see readme_given.py)."""

from datetime import timedelta

import tiercube
from typecheck.readme_given import session, url

text = "the token's text, as the colleague received it"

token = session.security.create_token("eve", tier=tiercube.ReadOnlySession, expires_in=timedelta(days=7))
print(token)                                      # send this text; the server keeps only its digest
session.security.tokens                           # {id: TokenInfo(user, tier, expires_at, ...)}
session.security.revoke_token(token)              # the next request with it is a 401

# The colleague, with the text:
reader = tiercube.connect(url, authentication=tiercube.TokenAuthentication(text), require=tiercube.ReadOnlySession)
