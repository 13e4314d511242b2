-- Labels from triage and corrections are reviewed before they are folded into intents/.
ALTER TABLE training_labels ADD COLUMN status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected', 'folded'));
ALTER TABLE training_labels ADD COLUMN reviewed_by text;
ALTER TABLE training_labels ADD COLUMN reviewed_at timestamptz;
