/**
 * The body of every response isola writes itself rather than an app: the status, and the request
 * id a user can quote to find the log line. The reason stays in the log.
 */
import type { HttpResponse } from './message.js';

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Content Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  508: 'Loop Detected',
};

export function errorResponse(
  status: number,
  requestId: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    status,
    statusText: '',
    headers: [['content-type', 'text/plain; charset=utf-8'], ...Object.entries(headers)],
    body: Buffer.from(`${status} ${STATUS_TEXT[status] ?? 'Error'}\nrequest id: ${requestId}\n`, 'utf8'),
  };
}
