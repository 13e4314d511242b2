-- Orchestration: retries scheduled per step, fencing tokens, compensation and manual tasks.
ALTER TABLE fulfilment_steps DROP CONSTRAINT fulfilment_steps_status_check;
ALTER TABLE fulfilment_steps ADD CONSTRAINT fulfilment_steps_status_check
  CHECK (status IN ('pending', 'running', 'waiting', 'done', 'failed', 'skipped', 'manual'));
ALTER TABLE fulfilment_steps ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE fulfilment_steps ADD COLUMN run_token text;
ALTER TABLE fulfilment_steps ADD COLUMN undo_status text CHECK (undo_status IN ('done', 'failed', 'none'));
ALTER TABLE fulfilment_steps ADD COLUMN undo_error text;
ALTER TABLE fulfilment_steps ADD COLUMN manual_case text;
ALTER TABLE fulfilment_steps ADD COLUMN note text;
