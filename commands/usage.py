"""The `/incident` grammar as people read it; every wrong command is answered with the right form."""

from __future__ import annotations

from bot.severity import SEVERITIES

SUBCOMMANDS: dict[str, dict[str, str]] = {
    "declare": {
        "form": "/incident declare [<sev> <playbook> <title>]",
        "zh": "发起应急事件：不带参数打开表单，或直接给出级别、预案和标题",
        "en": "declare an incident: no arguments opens the form; or give severity, playbook and title",
    },
    "role": {
        "form": "/incident role <role> @person",
        "zh": "指定或交接角色：commander tech comms legal support",
        "en": "assign or hand over a role: commander tech comms legal support",
    },
    "roles": {"form": "/incident roles", "zh": "谁担任哪个角色", "en": "who holds which role"},
    "steps": {"form": "/incident steps", "zh": "处置清单，未完成在前", "en": "the checklist, open steps first"},
    "done": {"form": "/incident done <n> [note]", "zh": "完成第 n 项，可附说明", "en": "complete step n, with an optional note"},
    "status": {"form": "/incident status <status> [note]", "zh": "更新状态：investigating identified monitoring resolved",
               "en": "set the status: investigating identified monitoring resolved"},
    "severity": {"form": "/incident severity <sev> [reason]", "zh": "调整级别（升级通知领导；降级须写原因，限应急指挥）",
                 "en": "change the severity (raising notifies leadership; lowering needs a reason, commander only)"},
    "close": {"form": "/incident close", "zh": "复盘后关闭（应急指挥）；频道按配置延时归档", "en": "close after the review (commander); the channel is archived later"},
    "drill": {"form": "/incident drill <playbook>", "zh": "按预案演练（标记为演练，不计入指标，关闭时评分）",
              "en": "run a playbook as a drill (marked, excluded from metrics, scored at close)"},
    "resolve": {"form": "/incident resolve [resolution]", "zh": "宣布解决（应急指挥），并发布复盘草稿",
                "en": "resolve (commander) and post the review draft"},
    "note": {
        "form": "/incident note <text>",
        "zh": "在时间线上记一笔；以 `action:` 开头记为行动项",
        "en": "add a line to the timeline; start with `action:` for an action item",
    },
    "statement": {"form": "/incident statement [stage] [zh|en] | show", "zh": "起草统一对外口径（审批后对外），或查看已批准口径",
                  "en": "draft the unified public statement for approval, or show the approved one"},
    "summary": {"form": "/incident summary [INC-n]", "zh": "给管理者的摘要（私信附时间线图）", "en": "manager summary (chart by DM)"},
    "timeline": {"form": "/incident timeline [INC-n]", "zh": "完整的时间线（分页）", "en": "the whole dated timeline, page by page"},
    "list": {"form": "/incident list", "zh": "进行中的事件，最新在前", "en": "active incidents, newest first"},
    "repair": {
        "form": "/incident repair [INC-n]",
        "zh": "重试 Slack 未完成的操作（频道、置顶、公告）",
        "en": "retry the Slack work that did not finish (channel, pin, announcement)",
    },
    "help": {"form": "/incident help", "zh": "显示本帮助", "en": "show this help"},
}

EXAMPLE = "/incident declare sev2 payment-failure 支付宝回调超时"
OUTSIDE = {
    "zh": "在事件频道里无需写编号；在别处，把编号写在子命令后：`/incident roles INC-42`",
    "en": "Inside an incident channel the incident is implied; elsewhere put its key after the subcommand: `/incident roles INC-42`",
}


def usage(language: str) -> str:
    """Every subcommand with its form and a one-line description."""
    heading = "用法：" if language == "zh" else "Usage:"
    lines = [f"*{heading}*"]
    for spec in SUBCOMMANDS.values():
        lines.append(f"`{spec['form']}` — {spec[language]}")
    levels = ", ".join(f"`{code}`" for code in SEVERITIES)
    lines.append(("级别：" if language == "zh" else "Severities: ") + levels + " (1–4)")
    lines.append(("例如：" if language == "zh" else "Example: ") + f"`{EXAMPLE}`")
    lines.append(OUTSIDE[language])
    return "\n".join(lines)


def form_of(subcommand: str) -> str:
    """The right form of one subcommand, for an error reply."""
    return f"`{SUBCOMMANDS[subcommand]['form']}`"
