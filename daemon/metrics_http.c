/* metrics_http.c — /metrics over libmicrohttpd (see metrics_http.h). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

#define MAX_CONNECTIONS 16
#define IDLE_TIMEOUT_S 10

struct VdmMetricsHttp {
  struct MHD_Daemon *mhd;
  VdmMetricsRenderFunc render;
  void *user_data;
  uint16_t port;
  uint64_t scrapes; /* written by the HTTP thread, read by others: atomics */
};

static const char index_page[] =
    "<html><head><title>vdropmond</title></head><body>"
    "<h1>vdropmond</h1><p><a href=\"/metrics\">/metrics</a></p></body></html>\n";

static void
set_error (char *error, size_t size, const char *format, ...)
{
  if (!error || size == 0)
    return;
  va_list args;
  va_start (args, format);
  vsnprintf (error, size, format, args);
  va_end (args);
}

static int
parse_port (const char *text, uint16_t *port)
{
  char *end;
  errno = 0;
  long value = strtol (text, &end, 10);
  if (errno || end == text || *end || value < 0 || value > 65535)
    return -1;
  *port = (uint16_t) value;
  return 0;
}

int
vdm_metrics_http_parse_listen (const char *listen, void *sockaddr_out,
    unsigned *sockaddr_len, char *error, size_t error_size)
{
  char host[64];
  const char *colon = listen ? strrchr (listen, ':') : NULL;
  uint16_t port;
  if (!colon || (size_t) (colon - listen) >= sizeof host || parse_port (colon + 1, &port) < 0) {
    set_error (error, error_size, "--metrics-listen wants HOST:PORT (e.g. 127.0.0.1:%d), got \"%s\"",
        VDM_METRICS_SUGGESTED_PORT, listen ? listen : "");
    return -1;
  }
  memcpy (host, listen, (size_t) (colon - listen));
  host[colon - listen] = '\0';
  size_t len = strlen (host);
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
    struct sockaddr_in6 *sin6 = sockaddr_out;
    host[len - 1] = '\0';
    memset (sin6, 0, sizeof *sin6);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons (port);
    if (inet_pton (AF_INET6, host + 1, &sin6->sin6_addr) == 1) {
      *sockaddr_len = sizeof *sin6;
      return 0;
    }
  } else {
    struct sockaddr_in *sin = sockaddr_out;
    memset (sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons (port);
    if (inet_pton (AF_INET, host, &sin->sin_addr) == 1) {
      *sockaddr_len = sizeof *sin;
      return 0;
    }
  }
  set_error (error, error_size, "--metrics-listen: \"%s\" is not a numeric IPv4 address or "
      "[IPv6] address", host);
  return -1;
}

static enum MHD_Result
answer_static (struct MHD_Connection *connection, unsigned status, const char *body,
    const char *content_type)
{
  struct MHD_Response *response = MHD_create_response_from_buffer (strlen (body),
      (void *) body, MHD_RESPMEM_PERSISTENT);
  if (!response)
    return MHD_NO;
  MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result result = MHD_queue_response (connection, status, response);
  MHD_destroy_response (response);
  return result;
}

/* Whether the client takes gzip (Prometheus always asks for it). A plain
 * substring test is enough here: "gzip;q=0" is not something scrapers send. */
static int
accepts_gzip (struct MHD_Connection *connection)
{
  const char *accept = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
      MHD_HTTP_HEADER_ACCEPT_ENCODING);
  return accept && strstr (accept, "gzip") != NULL;
}

/* Replaces text->data by its gzip form. Level 1: at 1,200 streams the
 * scrape shrinks about 25 times for a few ms of CPU. Returns 0 or -1. */
static int
gzip_text (VdmMetricsText * text)
{
  z_stream z = { 0 };
  if (deflateInit2 (&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  uLong cap = deflateBound (&z, (uLong) text->len);
  unsigned char *out = malloc (cap);
  if (!out) {
    deflateEnd (&z);
    return -1;
  }
  z.next_in = (unsigned char *) text->data;
  z.avail_in = (uInt) text->len;
  z.next_out = out;
  z.avail_out = (uInt) cap;
  int rc = deflate (&z, Z_FINISH);
  size_t len = z.total_out;
  deflateEnd (&z);
  if (rc != Z_STREAM_END) {
    free (out);
    return -1;
  }
  free (text->data);
  text->data = (char *) out;
  text->len = len;
  text->cap = cap;
  return 0;
}

static enum MHD_Result
answer_metrics (VdmMetricsHttp * http, struct MHD_Connection *connection)
{
  VdmMetricsText text;
  vdm_metrics_text_init (&text);
  if (http->render (&text, http->user_data) < 0 || text.failed || !text.data) {
    vdm_metrics_text_clear (&text);
    return answer_static (connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
        "rendering the metrics failed\n", "text/plain; charset=utf-8");
  }
  int gzipped = accepts_gzip (connection) && gzip_text (&text) == 0;
  /* the response takes the malloc'ed text and frees it when sent */
  struct MHD_Response *response = MHD_create_response_from_buffer (text.len, text.data,
      MHD_RESPMEM_MUST_FREE);
  if (!response) {
    vdm_metrics_text_clear (&text);
    return MHD_NO;
  }
  MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, VDM_METRICS_CONTENT_TYPE);
  if (gzipped)
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
  MHD_add_response_header (response, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  enum MHD_Result result = MHD_queue_response (connection, MHD_HTTP_OK, response);
  MHD_destroy_response (response);
  __atomic_add_fetch (&http->scrapes, 1, __ATOMIC_RELAXED);
  return result;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *connection, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **request_state)
{
  VdmMetricsHttp *http = cls;
  /* first call: headers only; answer on the second, once any body is read */
  if (*request_state == NULL) {
    *request_state = http;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    *upload_data_size = 0; /* a body is never used: discard it */
    return MHD_YES;
  }
  if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
    return answer_static (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n",
        "text/plain; charset=utf-8");
  if (strcmp (url, "/metrics") == 0)
    return answer_metrics (http, connection);
  if (strcmp (url, "/") == 0)
    return answer_static (connection, MHD_HTTP_OK, index_page, "text/html; charset=utf-8");
  return answer_static (connection, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n",
      "text/plain; charset=utf-8");
}

VdmMetricsHttp *
vdm_metrics_http_start (const char *listen, VdmMetricsRenderFunc render, void *user_data,
    char *error, size_t error_size)
{
  struct sockaddr_storage addr;
  unsigned addr_len;
  if (vdm_metrics_http_parse_listen (listen, &addr, &addr_len, error, error_size) < 0)
    return NULL;
  VdmMetricsHttp *http = calloc (1, sizeof *http);
  if (!http) {
    set_error (error, error_size, "out of memory");
    return NULL;
  }
  http->render = render;
  http->user_data = user_data;
  /* MHD_USE_AUTO picks epoll here: select() would fail on a daemon whose
   * fds pass 1024 (one per client), poll/epoll do not. */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
  if (addr.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  http->mhd = MHD_start_daemon (flags, 0, NULL, NULL, on_request, http,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned) MAX_CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) IDLE_TIMEOUT_S,
      MHD_OPTION_END);
  if (!http->mhd) {
    set_error (error, error_size, "cannot serve metrics on %s (address in use, or not "
        "an address of this host?)", listen);
    free (http);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info (http->mhd, MHD_DAEMON_INFO_BIND_PORT);
  http->port = info ? info->port : 0;
  return http;
}

uint16_t
vdm_metrics_http_port (const VdmMetricsHttp * http)
{
  return http ? http->port : 0;
}

uint64_t
vdm_metrics_http_scrapes (const VdmMetricsHttp * http)
{
  return http ? __atomic_load_n (&http->scrapes, __ATOMIC_RELAXED) : 0;
}

void
vdm_metrics_http_stop (VdmMetricsHttp * http)
{
  if (!http)
    return;
  MHD_stop_daemon (http->mhd);
  free (http);
}
