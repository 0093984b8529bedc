"""The care team's web desk: sign-in, the inbox, the item page, replies, the lead's live board (docs/desk.md)."""
