-- One lock per conversation, as a lease (no connection is held while a message is processed).
ALTER TABLE conversations ADD COLUMN locked_by text;
ALTER TABLE conversations ADD COLUMN locked_until timestamptz;
