"""`torchflow enterprise ...`: one file per enterprise (一企一档), docs/enterprises.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from torchflow.cli.context import Env, code, pairs, pass_env, table
from torchflow.cli.params import LIMIT, OFFSET
from torchflow.i18n import N_, Listing, Text, _

FILE = click.Path(dir_okay=False, path_type=Path)
LIST_COLUMNS = [(N_("NAME"), "name"), (N_("CREDIT CODE"), "credit_code"),
                (N_("DISTRICT"), "district"), (N_("INDUSTRY"), "industry"), (N_("TAGS"), "tags"),
                (N_("COORDINATOR"), "coordinator")]
MATCHED_BY = (N_("name"), N_("code"))  # how `enterprise link` matched a case


@click.group()
def enterprise() -> None:
    """The enterprises the office serves: their records, contacts, cases and requests.

    \b
    Example:
      torchflow enterprise add 无锡清能动力有限公司 --code 91320214MA1XXXXXXX \\
          --district 新吴区 --tag 高企 --contact "李华/总经理=13912345678"
      torchflow enterprise show 无锡清能动力有限公司
    """


def _values(func: Any) -> Any:
    for option in reversed([
        click.option("--code", "credit_code", metavar="CODE",
                     help="Unified social credit code, 18 characters ('' clears it)."),
        click.option("--district", help="District or park, e.g. 新吴区, 无锡高新区."),
        click.option("--industry", help="Industry, e.g. 集成电路."),
        click.option("--coordinator", metavar="PERSON",
                     help="Who follows it (挂钩联系): a handle or unique name ('' clears it)."),
    ]):
        func = option(func)
    return func


@enterprise.command("add")
@click.argument("name")
@_values
@click.option("--tag", "tags", multiple=True, help="A tag: 高新技术企业 (高企), 科技型中小企业, "
              "专精特新 ...; repeat or separate with 、")
@click.option("--contact", "contacts", multiple=True, metavar="NAME[/POSITION]=PHONE",
              help="A contact at the enterprise; repeat for several.")
@pass_env
def add(env: Env, name: str, **values: Any) -> None:
    """Add the enterprise NAME (as on its business licence).

    \b
    Example:
      torchflow enterprise add 无锡清能动力有限公司 --code 91320214MA1XXXXXXX --tag 高企
    """
    result = env.call("enterprise.add", name=name, **_given(values))
    env.emit(result, lambda r: _saved(_("enterprise {name} added", name=r["name"]), r, env))


@enterprise.command("edit")
@click.argument("enterprise")
@click.option("--name", help="Its new name (after a change of name).")
@_values
@click.option("--tag", "add_tags", multiple=True, help="Add a tag.")
@click.option("--remove-tag", "remove_tags", multiple=True, help="Take a tag away.")
@click.option("--contact", "add_contacts", multiple=True, metavar="NAME[/POSITION]=PHONE",
              help="Add a contact, or change the one of that name.")
@click.option("--remove-contact", "remove_contacts", multiple=True, metavar="NAME",
              help="Remove a contact.")
@pass_env
def edit(env: Env, enterprise: str, **values: Any) -> None:
    """Change ENTERPRISE (its name or credit code).

    \b
    Example:
      torchflow enterprise edit 91320214MA1XXXXXXX --tag 专精特新 --coordinator 王立
    """
    result = env.call("enterprise.edit", enterprise=enterprise, **_given(values))
    env.emit(result, lambda r: _saved(_("enterprise {name} changed", name=r["name"]), r, env))


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()
            if v is not None and v != ()}


def _saved(line: Text, r: dict[str, Any], env: Env) -> str:
    lines = [env.tr(line)] + [env.tr(_("warning: {problem}", problem=w))
                              for w in r.get("warnings", [])]
    return "\n".join(lines)


@enterprise.command("show")
@click.argument("enterprise")
@pass_env
def show(env: Env, enterprise: str) -> None:
    """ENTERPRISE's file (by name or credit code): its record and contacts, open and
    closed cases, the contacts and visits logged, its requests and how they ended.

    \b
    Example:
      torchflow enterprise show 无锡清能动力有限公司
    """
    env.emit(env.call("enterprise.show", enterprise=enterprise), lambda v: render(v, env))


def render(v: dict[str, Any], env: Env) -> str:
    tr, names = env.tr, env.names
    check = {True: _("passes"), False: _("fails (an early pilot-region code, or mistyped)"),
             None: None}[v["code_check"]]
    head = pairs({**v, "tags": Listing(v["tags"]) if v["tags"] else None, "check": check,
                  "district": v["district"] or None, "industry": v["industry"] or None,
                  "coordinator": _("{name} ({handle})", name=v["coordinator_name"],
                                   handle=v["coordinator"]) if v["coordinator"] else None},
                 [(N_("Enterprise"), "name"), (N_("Credit code"), "credit_code"),
                  (N_("Check character"), "check"), (N_("District"), "district"),
                  (N_("Industry"), "industry"), (N_("Tags"), "tags"),
                  (N_("Coordinator"), "coordinator")], tr)
    contacts = table(v["contacts"], [(N_("CONTACT"), "name"), (N_("POSITION"), "position"),
                                     (N_("PHONE"), "phone")], tr)
    case_columns = [(N_("CASE"), "key"), (N_("STATE"), "state"), (N_("TITLE"), "title"),
                    (N_("OWNER"), "owner"), (N_("OPENED"), "opened_at")]

    def cases(rows: list[dict[str, Any]]) -> str:
        return table([{**c, "state": names.state(c["workflow"], c["state"])} for c in rows],
                     case_columns, tr)

    followups = table([{**f, "kind": code(f["kind"]), "requests": f["requests"] or None}
                       for f in v["followups"]],
                      [(N_("WHEN"), "at"), (N_("KIND"), "kind"), (N_("CASE"), "key"),
                       (N_("BY"), "by"), (N_("NOTE"), "note"), (N_("REQUESTS"), "requests")],
                      tr)
    requests = table([{**r, "state": names.state("enterprise_request", r["state"]),
                       "category": names.value("enterprise_request", "category", r["category"]),
                       "satisfaction": names.value("enterprise_request", "satisfaction",
                                                    r["satisfaction"])}
                      for r in v["requests"]],
                     [(N_("REQUEST"), "key"), (N_("CATEGORY"), "category"),
                      (N_("STATE"), "state"), (N_("SATISFACTION"), "satisfaction"),
                      (N_("RAISED ON"), "raised_on"), (N_("TITLE"), "title")], tr)
    return "\n\n".join([
        head, tr(_("Contacts:")) + "\n" + contacts, tr(_("Open cases:")) + "\n" +
        cases(v["open_cases"]), tr(_("Closed cases:")) + "\n" + cases(v["closed_cases"]),
        tr(_("Contacts and visits logged:")) + "\n" + followups,
        tr(_("Requests:")) + "\n" + requests])


@enterprise.command("list")
@click.option("--tag", help="Only enterprises with this tag (高企 for 高新技术企业).")
@click.option("--district", help="Only this district or park.")
@click.option("--coordinator", metavar="PERSON", help="Only those this person follows.")
@click.option("--search", metavar="TEXT", help="Part of the name or credit code.")
@click.option("--limit", type=LIMIT, default=500, show_default=True)
@click.option("--offset", type=OFFSET, default=0)
@pass_env
def list_(env: Env, **filters: Any) -> None:
    """Enterprises by name.

    \b
    Example:
      torchflow enterprise list --tag 专精特新 --district 新吴区
    """
    env.emit_page(env.call("enterprise.list", **filters), LIST_COLUMNS,
                  lambda r: {**r, "tags": Listing(r["tags"]) if r["tags"] else None})


@enterprise.command("link")
@click.option("--field", default="enterprise", show_default=True,
              help="The case field that holds the enterprise's name.")
@click.option("--code-field", default="credit_code", show_default=True,
              help="The case field that holds its credit code.")
@click.option("--workflow", help="Only this workflow's cases.")
@click.option("--dry-run", is_flag=True, help="Say what would be linked; write nothing.")
@pass_env
def link(env: Env, field: str, code_field: str, workflow: str | None, dry_run: bool) -> None:
    """Link cases whose enterprise was typed as text to the enterprise of that name
    or credit code (admins). Try --dry-run first.

    \b
    Example:
      torchflow enterprise link --dry-run
    """
    result = env.call("enterprise.link", field=field, code_field=code_field, workflow=workflow,
                      dry_run=dry_run or None)
    env.emit(result, lambda r: _linked(r, env))


def _linked(r: dict[str, Any], env: Env) -> str:
    tr = env.tr
    rows = [{**x, "by": code(x["by"])} for x in r["linked"]]
    lines = [tr(_("would link:") if r["dry_run"] else _("linked:")),
             table(rows, [(N_("CASE"), "key"), (N_("ENTERPRISE"), "enterprise"),
                          (N_("MATCHED BY"), "by")], tr)]
    if r["unmatched"]:
        lines += [tr(_("no enterprise matches:")),
                  table(r["unmatched"], [(N_("CASE"), "key"), (N_("NAME"), "name"),
                                         (N_("CREDIT CODE"), "code")], tr)]
    if r["conflicts"]:
        lines += [tr(_("name and code name different enterprises (left alone):")),
                  table(r["conflicts"], [(N_("CASE"), "key"), (N_("BY NAME"), "by_name"),
                                         (N_("BY CODE"), "by_code")], tr)]
    lines.append(tr(_("{linked} linked, {unmatched} unmatched, {conflicts} in conflict, "
                      "{already} linked before", linked=len(r["linked"]),
                      unmatched=len(r["unmatched"]), conflicts=len(r["conflicts"]),
                      already=r["already"])))
    if r["dry_run"]:
        lines.append(tr(_("(dry run: nothing written)")))
    return "\n".join(lines)


@enterprise.command("import")
@click.argument("file", type=FILE)
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@pass_env
def import_(env: Env, file: Path, dry_run: bool) -> None:
    """The office's enterprise ledger (.xlsx or .csv): 企业名称, 统一社会信用代码, 所在区域,
    所属行业, 企业标签, 挂钩联系人, 联系人, 职务, 联系电话. An enterprise is found by its
    credit code (else its name) and updated, or added.

    \b
    Example:
      torchflow enterprise import 企业台账.xlsx --dry-run
    """
    result = env.call("enterprise.import", file=file, dry_run=dry_run or None)
    env.emit(result, lambda r: _imported(r, env))


def _imported(r: dict[str, Any], env: Env) -> str:
    text = _("{file}: {added} added, {updated} updated", file=r["file"], added=r["added"],
             updated=r["updated"])
    if r["dry_run"]:
        text = _("{text} (dry run: nothing written)", text=text)
    return "\n".join([env.tr(text)] + [env.tr(_("warning: {problem}", problem=w))
                                       for w in r["warnings"]])


@enterprise.command("export")
@click.argument("out", type=FILE)
@pass_env
def export(env: Env, out: Path) -> None:
    """The enterprise ledger to OUT (.xlsx or .csv); it imports again as it is.

    \b
    Example:
      torchflow enterprise export 企业台账.xlsx
    """
    env.emit(env.call("enterprise.export", out=out),
             lambda r: _("wrote {n} enterprises to {file}", n=r["rows"], file=r["file"]))
