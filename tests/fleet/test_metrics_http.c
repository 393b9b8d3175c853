/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of daemon/metrics_http.c: a real libmicrohttpd server on a free
 * loopback port, asked with plain sockets (the client side is raw HTTP so
 * that what the server sends is checked byte for byte). Suite "fleet":
 * it listens on a port, so run it under the root-tests lock. */
#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics_http.h"
#include "metrics_vdropmon.h"

typedef struct {
  VdmFleetMetrics *fleet;
  int fail;
  int calls;
} Scrape;

static int
render_fleet (VdmMetricsText * text, void *user_data)
{
  Scrape *scrape = user_data;
  scrape->calls++;
  if (scrape->fail)
    return -1;
  return vdm_fleet_metrics_render (scrape->fleet, 1000000000ull, text);
}

/* Sends `request` to 127.0.0.1:port and returns everything the server said. */
static char *
http_exchange (uint16_t port, const char *request)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (fd, >=, 0);
  struct timeval timeout = { .tv_sec = 5 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (write (fd, request, strlen (request)), ==, (ssize_t) strlen (request));
  GString *reply = g_string_new (NULL);
  char buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (reply, buf, n);
  close (fd);
  return g_string_free (reply, FALSE);
}

/* Inflates the body of a gzip reply (with a length-counted binary body). */
static void
check_gzip_body (const char *reply)
{
  const char *cl = strstr (reply, "Content-Length: ");
  const char *body = strstr (reply, "\r\n\r\n");
  g_assert_nonnull (cl);
  g_assert_nonnull (body);
  body += 4;
  size_t len = g_ascii_strtoull (cl + 16, NULL, 10);
  GConverter *decompressor = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP));
  char out[1 << 16];
  gsize read = 0, written = 0;
  GError *error = NULL;
  GConverterResult rc = g_converter_convert (decompressor, body, len, out, sizeof out - 1,
      G_CONVERTER_INPUT_AT_END, &read, &written, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rc, ==, G_CONVERTER_FINISHED);
  out[written] = '\0';
  g_assert_true (g_str_has_prefix (out, "# HELP vdropmon_"));
  g_assert_nonnull (strstr (out, "\nvdropmon_build_info{version=\"9.9.9\"} 1\n"));
  g_object_unref (decompressor);
}

static void
test_serves_metrics (void)
{
  Scrape scrape = { .fleet = vdm_fleet_metrics_new (60000000000ull, 1000, "9.9.9") };
  char error[256] = "";
  VdmMetricsHttp *http = vdm_metrics_http_start ("127.0.0.1:0", render_fleet, &scrape, error,
      sizeof error);
  g_assert_nonnull (http);
  uint16_t port = vdm_metrics_http_port (http);
  g_assert_cmpuint (port, >, 0);

  char *reply = http_exchange (port, "GET /metrics HTTP/1.0\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (reply, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  const char *body = strstr (reply, "\r\n\r\n");
  g_assert_nonnull (body);
  body += 4;
  g_assert_true (g_str_has_prefix (body, "# HELP vdropmon_"));
  g_assert_nonnull (strstr (body, "\nvdropmon_build_info{version=\"9.9.9\"} 1\n"));
  /* Content-Length matches the body exactly */
  const char *cl = strstr (reply, "Content-Length: ");
  g_assert_nonnull (cl);
  g_assert_cmpuint (g_ascii_strtoull (cl + 16, NULL, 10), ==, strlen (body));
  g_assert_null (strstr (reply, "Content-Encoding"));  /* not asked for */
  g_free (reply);
  g_assert_cmpuint (vdm_metrics_http_scrapes (http), ==, 1);

  /* gzip when asked: the body inflates to the plain scrape */
  reply = http_exchange (port, "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (reply, "\r\nContent-Encoding: gzip\r\n"));
  check_gzip_body (reply);
  g_free (reply);

  reply = http_exchange (port, "HEAD /metrics HTTP/1.0\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 200 OK\r\n"));
  g_assert_true (g_str_has_suffix (reply, "\r\n\r\n"));  /* headers only */
  g_free (reply);

  reply = http_exchange (port, "GET /other HTTP/1.0\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 404 "));
  g_free (reply);

  reply = http_exchange (port, "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 405 "));
  g_assert_nonnull (strstr (reply, "\r\nAllow: GET, HEAD\r\n"));
  g_free (reply);

  reply = http_exchange (port, "GET / HTTP/1.0\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 200 OK\r\n"));
  g_assert_nonnull (strstr (reply, "href=\"/metrics\""));
  g_free (reply);

  /* a render that fails is a 500, not a crash nor an empty 200 */
  scrape.fail = 1;
  reply = http_exchange (port, "GET /metrics HTTP/1.0\r\n\r\n");
  g_assert_true (g_str_has_prefix (reply, "HTTP/1.1 500 "));
  g_free (reply);
  g_assert_cmpint (scrape.calls, ==, 4); /* GET, gzip GET, HEAD, failed GET */

  /* the same port twice: the second one says why it cannot */
  char listen[32];
  g_snprintf (listen, sizeof listen, "127.0.0.1:%u", port);
  g_assert_null (vdm_metrics_http_start (listen, render_fleet, &scrape, error, sizeof error));
  g_assert_nonnull (strstr (error, "cannot serve metrics on 127.0.0.1:"));

  vdm_metrics_http_stop (http);
  vdm_fleet_metrics_free (scrape.fleet);
}

static void
test_parse_listen (void)
{
  struct sockaddr_storage addr;
  unsigned len;
  char error[256];
  g_assert_cmpint (vdm_metrics_http_parse_listen ("127.0.0.1:9945", &addr, &len, error,
          sizeof error), ==, 0);
  g_assert_cmpint (addr.ss_family, ==, AF_INET);
  g_assert_cmpuint (ntohs (((struct sockaddr_in *) &addr)->sin_port), ==, 9945);
  g_assert_cmpint (vdm_metrics_http_parse_listen ("[::1]:9945", &addr, &len, error,
          sizeof error), ==, 0);
  g_assert_cmpint (addr.ss_family, ==, AF_INET6);
  g_assert_cmpuint (len, ==, sizeof (struct sockaddr_in6));
  const char *bad[] = { "9945", "localhost:9945", "127.0.0.1:", "127.0.0.1:65536",
    "127.0.0.1:-1", "127.0.0.1:99x", "::1:9945", "", "[::1:9945" };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    error[0] = '\0';
    g_assert_cmpint (vdm_metrics_http_parse_listen (bad[i], &addr, &len, error, sizeof error),
        ==, -1);
    g_assert_cmpuint (strlen (error), >, 0);
  }
  g_assert_cmpint (vdm_metrics_http_parse_listen (NULL, &addr, &len, error, sizeof error), ==,
      -1);
  g_assert_null (vdm_metrics_http_start ("nonsense", render_fleet, NULL, error, sizeof error));
  g_assert_nonnull (strstr (error, "HOST:PORT"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics_http/parse-listen", test_parse_listen);
  g_test_add_func ("/metrics_http/serves-metrics", test_serves_metrics);
  return g_test_run ();
}
