-- Hand-offs to the team's helpdesk (care/helpdesk.py): the ticket a triage item was handed to, one per
-- item, with the helpdesk's last known status. A solved or closed ticket closes the item.
CREATE TABLE helpdesk_tickets (
    mention_key        VARCHAR PRIMARY KEY,   -- the triage item
    helpdesk           VARCHAR NOT NULL,      -- zendesk, webhook
    ticket_id          VARCHAR NOT NULL,      -- the helpdesk's id of the ticket
    ticket_url         VARCHAR,               -- where an agent opens it in the helpdesk
    status             VARCHAR NOT NULL,      -- the helpdesk's: new, open, pending, hold, solved, closed; deleted
    handed_off_at      TIMESTAMPTZ NOT NULL,
    handed_off_by      VARCHAR NOT NULL,      -- a person, or overheard (a playbook hand-off rule)
    status_checked_at  TIMESTAMPTZ,           -- when the status was last polled or called back
    solved_at          TIMESTAMPTZ            -- when Overheard first saw it solved or closed
);
