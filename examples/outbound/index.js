// The outbound example: a JavaScript wasi:http component whose outgoing requests (fetch) go
// through isola's allow-list. isola.toml grants loopback on any port and nothing else, so:
//
//   GET /outbound/time       answers with the time (the "upstream" the next route calls)
//   GET /outbound/allowed    fetches /outbound/time from this same server: allowed
//   GET /outbound/denied     fetches https://example.com/: not granted, refused
//   GET /outbound/metadata   fetches http://169.254.169.254/ (a cloud metadata address): refused
//
// Each outgoing request, allowed or refused, is a line in isola's log (never its path or query).
addEventListener('fetch', (event) => event.respondWith(handle(event.request)));

async function call(url) {
  try {
    const response = await fetch(url);
    return `${url} answered ${response.status}: ${await response.text()}`;
  } catch (error) {
    return `${url} was refused: ${error?.message ?? error}\n`;
  }
}

async function handle(request) {
  const url = new URL(request.url);
  switch (url.pathname) {
    case '/outbound/time':
      return Response.json({ now: new Date().toISOString() });
    case '/outbound/allowed':
      // The server this request came to, found from the request's own URL (its Host).
      return new Response(await call(`${url.origin}/outbound/time`));
    case '/outbound/denied':
      return new Response(await call('https://example.com/'));
    case '/outbound/metadata':
      return new Response(await call('http://169.254.169.254/latest/meta-data/'));
    default:
      return new Response(
        'routes: /outbound/time, /outbound/allowed, /outbound/denied, /outbound/metadata\n',
        {
          status: 404,
        },
      );
  }
}
