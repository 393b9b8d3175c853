#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""check_doc_blocks.py SOURCE_ROOT — every message field and every property
of the element is documented where the issue asks (issue 8): in the doc
comment gst-inspect and hotdoc show (plugin/gstvdropmon.c, the
`GstVdropmon:name:` blocks of plugin/vdropmon_props.c), in the field list
gst-inspect prints (VDM_MESSAGES_SUMMARY) and in docs/messages.md.

The fields are read from where the structures are built
(plugin/vdropmon_messages.c, one function per message), the properties from
where they are installed, so a field or property added without its
documentation fails here. TAP output.
"""
import os
import re
import sys

# The function of vdropmon_messages.c that builds each message.
BUILDERS = {
    "vdropmon-drop": ("vdm_drop_report_to_structure", "set_seq_list"),
    "vdropmon-drop-summary": ("vdm_drop_summary_to_structure",),
    "vdropmon-warning": ("warning_to_structure",),
    "vdropmon-clear": ("clear_to_structure",),
    "vdropmon-stats": ("vdm_stats_to_structure",),
}
# Field names a helper writes rather than the builder's own call
# (set_string_list's names are read at the builder's call).
HELPER_FIELDS = {"set_seq_list": {"rtp-seqs"}}


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def function_body(source, name):
    m = re.search(r"^%s \(.*?^\{(.*?)^\}" % re.escape(name), source, re.M | re.S)
    if not m:
        raise SystemExit("Bail out! no function %s in vdropmon_messages.c" % name)
    return m.group(1)


def built_fields(source, functions):
    fields = set()
    for fn in functions:
        body = function_body(source, fn)
        fields |= set(re.findall(r'"([a-z][a-z-]*)",\s*(?:G_TYPE_|GST_TYPE_)', body))
        fields |= HELPER_FIELDS.get(fn, set())
    stats_body = function_body(source, functions[0])
    fields |= set(re.findall(r'set_string_list \(s, "([a-z-]+)"', stats_body))
    return fields


def sections(text, heading):
    """Splits text at lines matching heading (group 1: the message name)."""
    parts, name = {}, None
    for line in text.splitlines():
        m = re.match(heading, line)
        if m:
            name = m.group(1)
            parts[name] = ""
        elif name:
            parts[name] += line + "\n"
    return parts


def element_doc(root):
    source = read(root, "plugin/gstvdropmon.c")
    m = re.search(r"/\*\*\n \* SECTION:element-vdropmon(.*?)\*/", source, re.S)
    return m.group(1) if m else ""


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    messages_c = read(root, "plugin/vdropmon_messages.c")
    doc = element_doc(root)
    doc_parts = sections(doc, r" \* `(vdropmon-[a-z-]+)`:")
    md = read(root, "docs/messages.md")
    md_parts = sections(md, r"## `(vdropmon-[a-z-]+)`")
    summary = re.search(r"#define VDM_MESSAGES_SUMMARY(.*?)\n#define", read(root,
        "plugin/vdropmon_messages.h"), re.S).group(1)
    summary_parts = {}
    for chunk in re.sub(r'"\s*\\?\s*"|\\\n|"', "", summary).split("|"):
        name, _, fields = chunk.strip().partition(":")
        name = name.split()[0] if name.strip() else ""
        summary_parts[name] = {f.strip() for f in fields.split(",")}

    results = []
    for message, functions in BUILDERS.items():
        fields = sorted(built_fields(messages_c, functions))
        results.append((len(fields) > 0, "%s: fields found in vdropmon_messages.c (%d)"
                        % (message, len(fields))))
        for field in fields:
            in_doc = "`%s`" % field in doc_parts.get(message, "")
            results.append((in_doc, "%s %s in the element's doc comment" % (message, field)))
            results.append(("| `%s` |" % field in md_parts.get(message, ""),
                            "%s %s in docs/messages.md" % (message, field)))
            results.append((field in summary_parts.get(message, set()),
                            "%s %s in VDM_MESSAGES_SUMMARY" % (message, field)))

    props_c = read(root, "plugin/vdropmon_props.c")
    installed = re.findall(r'g_param_spec_[a-z]+ \("([a-z-]+)"', props_c)
    blocks = set(re.findall(r"\* GstVdropmon:([a-z-]+):\n", props_c))
    md_props = md.split("## Properties", 1)[-1]
    results.append((len(installed) > 0, "properties found in vdropmon_props.c (%d)" % len(installed)))
    for prop in installed:
        results.append((prop in blocks, "property %s has a GstVdropmon:%s: doc block" % (prop, prop)))
        results.append(("| `%s` |" % prop in md_props, "property %s in docs/messages.md" % prop))

    print("1..%d" % len(results))
    failed = 0
    for i, (ok, what) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
