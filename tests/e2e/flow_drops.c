/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "flow_drops.h"

#include <arpa/inet.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "flow_drops.skel.h"
#include "kernel_test_util.h"

#define MAX_REASONS 512
#define REASON_PREFIX "SKB_DROP_REASON_"

struct _VdmE2eFlowDrops
{
  struct flow_drops_bpf *skel;
  struct btf *vmlinux;
};

/* "tcp 10.200.2.2:41234->10.200.1.1:8554" */
static gboolean
parse_flow (const gchar * flow, guint8 * protocol, struct in_addr *local, guint * local_port,
    struct in_addr *remote, guint * remote_port)
{
  gchar proto[4] = "", local_ip[16] = "", remote_ip[16] = "";

  if (sscanf (flow, "%3s %15[0-9.]:%u->%15[0-9.]:%u", proto, local_ip, local_port, remote_ip,
          remote_port) != 5 || *local_port > 65535 || *remote_port > 65535
      || inet_pton (AF_INET, local_ip, local) != 1 || inet_pton (AF_INET, remote_ip, remote) != 1)
    return FALSE;
  if (g_str_equal (proto, "tcp"))
    *protocol = IPPROTO_TCP;
  else if (g_str_equal (proto, "udp"))
    *protocol = IPPROTO_UDP;
  else
    return FALSE;
  return TRUE;
}

VdmE2eFlowDrops *
vdm_e2e_flow_drops_start (const gchar * flow)
{
  VdmE2eFlowDrops *c = g_new0 (VdmE2eFlowDrops, 1);
  struct in_addr local, remote;
  guint local_port, remote_port;
  guint8 protocol;

  if (!parse_flow (flow, &protocol, &local, &local_port, &remote, &remote_port))
    vdm_kt_fatal ("cannot count drops of \"%s\": not an IPv4 flow with both ends", flow);
  c->vmlinux = btf__load_vmlinux_btf ();
  c->skel = flow_drops_bpf__open ();
  if (!c->vmlinux || !c->skel)
    vdm_kt_skip_or_fail ("cannot open the flow drop counter (kernel BTF?)");
  c->skel->rodata->flow_protocol = protocol;
  c->skel->rodata->flow_local_addr = local.s_addr;
  c->skel->rodata->flow_remote_addr = remote.s_addr;
  c->skel->rodata->flow_local_port = (guint16) local_port;
  c->skel->rodata->flow_remote_port = (guint16) remote_port;
  if (flow_drops_bpf__load (c->skel) || flow_drops_bpf__attach (c->skel))
    vdm_kt_skip_or_fail ("cannot load the flow drop counter (root? BPF?)");
  printf ("  reference: counting kfree_skb of \"%s\" with the tests' own BPF program\n", flow);
  return c;
}

/* The value of SKB_DROP_REASON_<reason> on this kernel, or -1. */
static gint
reason_code (struct btf *vmlinux, const gchar * reason)
{
  gint id = btf__find_by_name_kind (vmlinux, "skb_drop_reason", BTF_KIND_ENUM);
  const struct btf_type *t = id > 0 ? btf__type_by_id (vmlinux, id) : NULL;
  guint i;

  for (i = 0; t && i < btf_vlen (t); i++) {
    const struct btf_enum *e = btf_enum (t) + i;
    const gchar *name = btf__name_by_offset (vmlinux, e->name_off);
    if (name && g_str_has_prefix (name, REASON_PREFIX)
        && g_str_equal (name + strlen (REASON_PREFIX), reason))
      return (gint) e->val;
  }
  return -1;
}

guint64
vdm_e2e_flow_drops_count (VdmE2eFlowDrops * c, const gchar * reason)
{
  gint code = reason_code (c->vmlinux, reason);
  int ncpus = libbpf_num_possible_cpus ();
  guint64 *values, sum = 0;
  guint32 key;
  int i;

  if (code < 0 || code >= MAX_REASONS || ncpus <= 0)
    vdm_kt_fatal ("no drop reason %s on this kernel", reason);
  key = (guint32) code;
  values = g_new0 (guint64, ncpus);
  if (bpf_map__lookup_elem (c->skel->maps.drops, &key, sizeof (key), values,
          sizeof (guint64) * ncpus, 0) == 0)
    for (i = 0; i < ncpus; i++)
      sum += values[i];
  g_free (values);
  return sum;
}

void
vdm_e2e_flow_drops_stop (VdmE2eFlowDrops * c)
{
  if (!c)
    return;
  flow_drops_bpf__destroy (c->skel);
  btf__free (c->vmlinux);
  g_free (c);
}
