/** What every chat channel adapter (Slack, Teams, ...) is built from: its settings and the core services. */
import type { Catalogue } from '../catalogue/loader.js';
import type { ConversationService } from '../conversation/conversation.service.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { RequestService } from '../requests/request.service.js';

export interface ChannelAdapterDeps<C> {
  config: C;
  db: Database;
  catalogue: () => Catalogue;
  conversation: ConversationService;
  requests: RequestService;
  log: Logger;
  now: () => Date;
}
