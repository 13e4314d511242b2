-- "All of" approvals collect each approver's vote; parallel steps share a stage.
ALTER TABLE approvals ADD COLUMN mode text NOT NULL DEFAULT 'any' CHECK (mode IN ('any', 'all'));
ALTER TABLE approvals ADD COLUMN approved_by text[] NOT NULL DEFAULT '{}';
