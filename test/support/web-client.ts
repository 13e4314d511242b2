/** Talks to the web chat over HTTP the way the browser page does. */
export interface WebMessage { id: number; kind: string; text: string; buttons?: { id: string; label: string; value?: string }[]; fields?: { label: string; value: string }[]; approvalId?: string; triageId?: string; resolved?: string; choices?: { options: { value: string; label: string }[]; multi: boolean; actionId?: string } }

export class WebUser {
  private cursor = 0;
  constructor(private readonly base: string, readonly email: string) {}

  async say(text: string): Promise<WebMessage[]> { return this.post({ text }); }
  async click(id: string, value?: string): Promise<WebMessage[]> { return this.post({ action: { id, ...(value !== undefined ? { value } : {}) } }); }

  private async post(body: Record<string, unknown>): Promise<WebMessage[]> {
    const r = await fetch(`${this.base}/web/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: this.email, ...body }) });
    if (r.status !== 200) throw new Error(`POST /web/messages ${r.status}: ${await r.text()}`);
    return this.inbox();
  }

  /** New messages since the last call. */
  async inbox(): Promise<WebMessage[]> {
    const r = await fetch(`${this.base}/web/messages?as=${encodeURIComponent(this.email)}&after=${this.cursor}`);
    const j = (await r.json()) as { messages: WebMessage[] };
    if (j.messages.length) this.cursor = j.messages[j.messages.length - 1]!.id;
    return j.messages;
  }

  /** Every message so far (ignores the cursor). */
  async all(): Promise<WebMessage[]> {
    const r = await fetch(`${this.base}/web/messages?as=${encodeURIComponent(this.email)}&after=0`);
    return ((await r.json()) as { messages: WebMessage[] }).messages;
  }
}
