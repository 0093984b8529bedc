"""The one scrubber: a secret echoed back by an upstream error is gone in every form it was sent in."""

from __future__ import annotations

import base64
from urllib.parse import quote

from core.secret_scrubbing import SecretScrubber, url_secrets

REDDIT = {"login": "p-jcoLKBynTLew", "password": "gko_LXELoV07ZBNUXrvWZfzE3aI", "extra": {"user_agent": "overheard"}}
WEBHOOK = {"password": "https://hooks.example/services/T000/B000/XXXXtokenXXXX", "extra": '{"api_token": "sk-live-1234"}'}


def test_every_form_of_every_connection_secret_is_masked():
    scrubber = SecretScrubber.for_connections({"reddit_default": REDDIT, "alerts_webhook": WEBHOOK})
    basic = base64.b64encode(b"p-jcoLKBynTLew:gko_LXELoV07ZBNUXrvWZfzE3aI").decode()
    echoed = (
        f'{{"error": "invalid_grant", "request": "Authorization: Basic {basic}\\n'
        f'grant_type=client_credentials&client_secret={quote(REDDIT["password"], safe="")}"}} '
        f"client_id=p-jcoLKBynTLew posted to {WEBHOOK['password']} with token sk-live-1234"
    )

    scrubbed = scrubber.scrub(echoed)

    for leaked in ("p-jcoLKBynTLew", "gko_LXELoV07ZBNUXrvWZfzE3aI", basic, "XXXXtokenXXXX", "sk-live-1234"):
        assert leaked not in scrubbed
    assert scrubbed.startswith('{"error": "invalid_grant", "request": "Authorization: Basic ***')
    assert "user_agent" not in scrubbed and "overheard" not in scrubbed  # not a secret, and not in the text


def test_text_without_secrets_is_unchanged_and_no_connection_means_no_scrubbing():
    assert SecretScrubber.for_connections({"reddit_default": REDDIT}).scrub("HTTP 503 from /r/x/search") == (
        "HTTP 503 from /r/x/search"
    )
    assert not SecretScrubber.for_connections({})


def test_a_login_in_a_source_url_is_masked_as_written_decoded_and_lowercased():
    url = "https://feed-reader:feed%2Fpass+word%409Lk%3D@private.example.com/feed.xml"
    scrubber = SecretScrubber.for_connections({}, [url, "https://news.example.com/feed.xml"])
    basic = base64.b64encode(b"feed-reader:feed/pass+word@9Lk=").decode()

    # A robots.txt message lowercases scheme://netloc, login and password with it; a 401 echoes HTTP Basic.
    scrubbed = scrubber.scrub(
        f"could not fetch {url.lower().removesuffix('feed.xml')}robots.txt; the server said: Authorization: Basic {basic} "
        "(password feed/pass+word@9Lk=)"
    )

    assert scrubbed == (
        "could not fetch https://***@private.example.com/robots.txt; the server said: Authorization: Basic *** (password ***)"
    )
    assert url_secrets("https://news.example.com/feed.xml") == []
    assert url_secrets("https://news.example.com:80x/") == []
