"""Replies on the platforms, from the desk: one sender per platform with a write API, sent once each.

- `reply.py`: `Reply`, `SentReply`, the `ReplySender` interface and the `ReplyAttempt` record;
- `platforms.py`: `reply_sender(platform, credentials, ...)`, and which platforms have a write API;
- `x.py`, `reddit.py`, `bluesky.py`, `mastodon.py`: the senders;
- `transport.py`: the session that retries reads and sends posts once, and what a failure means;
- `once.py`: `send_once`, which makes two sends of one item's reply post once;
- `exceptions.py`: refused, not sent, may have been posted, no write API.
"""
