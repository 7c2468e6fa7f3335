// The js-counter example: a JavaScript wasi:http component (built by `isola componentize`, run on
// a fresh instance per request) with its own routing, a counter and notes in the key-value store
// granted in isola.toml (wasi:keyvalue), and a greeting from the app's variables (wasi:config).
//
//   GET    /js/              a greeting and the routes
//   POST   /js/count         adds one to the counter (atomically) and returns it
//   GET    /js/count         the counter
//   PUT    /js/notes/NAME    stores the request body under NAME
//   GET    /js/notes/NAME    the note (404 when there is none)
//   DELETE /js/notes/NAME    deletes it
//   GET    /js/notes         every note's name
import { get as configGet } from 'wasi:config/store@0.2.0-draft';
import { increment } from 'wasi:keyvalue/atomics@0.2.0-draft2';
import { open } from 'wasi:keyvalue/store@0.2.0-draft2';

addEventListener('fetch', (event) => event.respondWith(handle(event.request)));

const text = (body, status = 200) =>
  new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });

const routes = [
  ['GET', /^\/js\/?$/, home],
  ['POST', /^\/js\/count$/, () => text(`${increment(open('default'), 'count', 1n)}\n`)],
  ['GET', /^\/js\/count$/, () => text(`${readCount()}\n`)],
  ['GET', /^\/js\/notes$/, listNotes],
  ['PUT', /^\/js\/notes\/([a-z0-9_-]{1,64})$/, putNote],
  ['GET', /^\/js\/notes\/([a-z0-9_-]{1,64})$/, getNote],
  ['DELETE', /^\/js\/notes\/([a-z0-9_-]{1,64})$/, deleteNote],
];

async function handle(request) {
  const { pathname } = new URL(request.url);
  let pathMatched = false;
  for (const [method, pattern, action] of routes) {
    const match = pattern.exec(pathname);
    if (!match) continue;
    pathMatched = true;
    if (method !== request.method) continue;
    try {
      return await action(request, match[1]);
    } catch (error) {
      // A wasi:keyvalue error result arrives as an Error whose payload is the WIT variant.
      const reason = error?.payload ? JSON.stringify(error.payload) : String(error);
      return text(`the store refused: ${reason}\n`, 500);
    }
  }
  return pathMatched ? text('method not allowed\n', 405) : text('no such route\n', 404);
}

function home() {
  const greeting = configGet('greeting') ?? 'Hello';
  return text(
    `${greeting} from a JavaScript component, in a fresh instance for this request.\n` +
      `The counter is at ${readCount()}: POST /js/count to add one; notes live at /js/notes/NAME.\n`,
  );
}

function readCount() {
  const value = open('default').get('count');
  return value === undefined ? 0 : Number(new TextDecoder().decode(value));
}

function listNotes() {
  const names = [];
  const bucket = open('default');
  let cursor;
  do {
    const page = bucket.listKeys(cursor);
    for (const key of page.keys) if (key.startsWith('note:')) names.push(key.slice(5));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return Response.json(names.sort());
}

async function putNote(request, name) {
  const body = new Uint8Array(await request.arrayBuffer());
  open('default').set(`note:${name}`, body);
  return text('stored\n', 201);
}

function getNote(_request, name) {
  const value = open('default').get(`note:${name}`);
  return value === undefined ? text('no such note\n', 404) : new Response(value);
}

function deleteNote(_request, name) {
  open('default').delete(`note:${name}`);
  return text('deleted\n');
}
