"""The one HTTP client and retry policy every outbound request goes through (ground layer).

`transport.http` holds `RetryPolicy` (retries, Retry-After, rate-limit headers, body cap, deadlines,
the source's time budget) as a requests session that the shared `HttpClient`, tweepy, praw, the reply
senders and the helpdesk clients all take; `transport.exceptions` holds its errors. It imports only
`core` and `config`, so collectors, care and the desk use it without importing one another.
"""
