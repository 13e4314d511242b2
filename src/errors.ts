/** Errors with a string code, so callers branch on codes, not messages. */
export type ErrorCode =
  | 'UNKNOWN_PERSON' | 'INELIGIBLE' | 'INVALID_FIELDS' | 'UNKNOWN_ITEM' | 'NOT_FOUND' | 'NOT_ALLOWED'
  | 'ACTION_FAILED' | 'ACTION_INPUT_INVALID' | 'CONFIG_INVALID' | 'CATALOGUE_INVALID' | 'THROTTLED' | 'SOD_CONFLICT';

export class AppError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
