/** A tiny cookie-keeping HTTP client for the dashboard's sign-in flows (what a browser does, without one). */
export class Client {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async req(path: string, o: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...o.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (o.form) { headers['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(o.form).toString(); }
    if (o.json !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(o.json); }
    const res = await fetch(`${this.base}${path}`, { method: o.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim(), value = pair!.slice(i + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** The sign-in form's token (GET /admin/login sets the pre-session cookie). */
  async formToken(path = '/admin/login'): Promise<string> {
    const html = await (await this.req(path)).text();
    return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  }

  async login(email: string, password: string): Promise<Response> {
    return this.req('/admin/login', { form: { _csrf: await this.formToken(), email, password } });
  }

  get csrf(): string { return decodeURIComponent(this.cookies.get('errand_csrf') ?? ''); }
}
