"""The bot's own words in Chinese and English; each message is written for a person, not a log."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "severity": {"zh": "级别", "en": "Severity"},
    "status": {"zh": "状态", "en": "Status"},
    "playbook": {"zh": "预案", "en": "Playbook"},
    "commander": {"zh": "应急指挥", "en": "Commander"},
    "started": {"zh": "开始时间", "en": "Started"},
    "declared_by": {"zh": "发起人", "en": "Declared by"},
    "unassigned": {"zh": "待指定", "en": "unassigned"},
    "assign_roles": {"zh": "指定角色", "en": "Assign roles"},
    "draft_statement": {"zh": "起草对外口径", "en": "Draft statement"},
    "update_status": {"zh": "更新状态", "en": "Update status"},
    "private": {"zh": "非公开事件", "en": "Private incident"},
    "drill": {"zh": "演练", "en": "DRILL"},
    "announce": {"zh": "{key} 已启动应急响应 · {severity}\n*{title}*\n频道：{channel}",
                 "en": "{key} declared · {severity}\n*{title}*\nChannel: {channel}"},
    "announce_private": {"zh": "{key} 已启动应急响应 · {severity}（非公开事件）",
                         "en": "{key} declared · {severity} (private incident)"},
    "topic": {"zh": "{severity} · {status} · {key} {title}", "en": "{severity} · {status} · {key} {title}"},
    "purpose": {"zh": "{key} 应急频道 · 预案：{playbook} · yingji 记录时间线",
                "en": "{key} incident channel · playbook: {playbook} · timeline kept by yingji"},
    "declaring": {"zh": ":rotating_light: 已记录 *{key}*：{title}\n正在创建频道 `#{channel}`，完成后通知你。",
                  "en": ":rotating_light: Recorded *{key}*: {title}\nCreating `#{channel}`; I will tell you when it is ready."},
    "already_declared": {"zh": "这个请求已经处理过：{key}（{channel}）。没有重复创建。",
                         "en": "This request was already handled: {key} ({channel}). Nothing was created twice."},
    "ready": {"zh": ":white_check_mark: {key} 已就绪：{channel}", "en": ":white_check_mark: {key} is ready: {channel}"},
    "not_invited": {"zh": "Slack 未能把以下成员拉进频道：{people}", "en": "Slack would not add to the channel: {people}"},
    "refused_user_is_restricted": {"zh": "访客账号，只有管理员能拉进频道", "en": "a guest account; only an admin can add it"},
    "refused_user_is_ultra_restricted": {"zh": "单频道访客，只有管理员能拉进频道", "en": "a single-channel guest; only an admin can add it"},
    "refused_ura_max_channels": {"zh": "单频道访客，已在另一个频道", "en": "a single-channel guest, already in another channel"},
    "refused_user_is_deleted": {"zh": "账号已停用", "en": "the account is deactivated"},
    "refused_user_disabled": {"zh": "账号已停用", "en": "the account is deactivated"},
    "refused_user_not_found": {"zh": "Slack 里没有这个用户", "en": "Slack has no such user"},
    "refused_user_not_visible": {"zh": "机器人看不到这个用户", "en": "the bot cannot see this user"},
    "refused_cant_invite": {"zh": "不能被邀请进这个频道", "en": "cannot be invited to this channel"},
    "channel_delayed": {
        "zh": ":hourglass: {key} 已记录。Slack 正在限流创建频道，约 {seconds} 秒后重试，频道就绪时会通知你。",
        "en": ":hourglass: {key} is recorded. Slack is rate-limiting channel creation; retrying in about {seconds} s. I will tell you when the channel is ready.",
    },
    "slack_gave_up": {
        "zh": ":warning: {key} 已记录，但 Slack 暂时无法完成以下操作：{what}。\n错误：{error}\n"
              "稍后运行 `/incident repair {key}` 补完，已完成的部分不会重复。",
        "en": ":warning: {key} is recorded, but Slack could not finish: {what}.\nError: {error}\n"
              "Run `/incident repair {key}` later to finish it; what is done will not be repeated.",
    },
    "op_create_channel": {"zh": "创建频道", "en": "create the channel"},
    "op_set_topic": {"zh": "设置频道主题", "en": "set the channel topic"},
    "op_set_purpose": {"zh": "设置频道说明", "en": "set the channel purpose"},
    "op_invite": {"zh": "邀请成员", "en": "invite people"},
    "op_post_header": {"zh": "发布事件概要", "en": "post the header"},
    "op_pin_header": {"zh": "置顶事件概要", "en": "pin the header"},
    "op_announce": {"zh": "在通告频道公告", "en": "announce the incident"},
    "op_tell_declarer_ready": {"zh": "通知发起人", "en": "tell you it is ready"},
    "op_update_header": {"zh": "更新事件概要", "en": "update the header"},
    "op_post_checklist": {"zh": "发布处置清单", "en": "post the checklist"},
    "op_refresh_checklist": {"zh": "更新处置清单", "en": "update the checklist"},
    "op_schedule_reminders": {"zh": "安排超时提醒", "en": "schedule step reminders"},
    "op_post_step_reminder": {"zh": "发送超时提醒", "en": "post a step reminder"},
    "op_post_note": {"zh": "在频道里回显记录", "en": "echo the note in the channel"},
    "op_import_message": {"zh": "把消息加入时间线", "en": "add the message to the timeline"},
    "op_send_chart": {"zh": "发送时间线图", "en": "send the timeline chart"},
    "op_post_review": {"zh": "发布复盘草稿", "en": "post the review draft"},
    "op_cancel_reminders": {"zh": "取消步骤提醒", "en": "cancel step reminders"},
    "op_post_digest": {"zh": "发布每日摘要", "en": "post the daily digest"},
    "op_post_statement": {"zh": "发布口径草稿", "en": "post the statement draft"},
    "op_redraw_statement": {"zh": "更新口径草稿", "en": "update the statement draft"},
    "op_statement_thread": {"zh": "在审批串里回复", "en": "reply in the review thread"},
    "op_deliver_outlet": {"zh": "推送到发布渠道", "en": "deliver to an outlet"},
    "op_schedule_update_reminder": {"zh": "安排下次更新提醒", "en": "schedule the next-update reminder"},
    "op_post_update_reminder": {"zh": "发送更新提醒", "en": "post the update reminder"},
    "op_sync_timers": {"zh": "安排提醒和计时", "en": "plan reminders and clocks"},
    "op_post_cadence_reminder": {"zh": "发送更新提醒", "en": "post the update reminder"},
    "op_notify_leadership": {"zh": "通知领导频道", "en": "tell the leadership channel"},
    "op_post_escalation": {"zh": "升级通知", "en": "escalate"},
    "op_post_clock_reminder": {"zh": "提醒监管时限", "en": "remind of a regulatory clock"},
    "op_archive_channel": {"zh": "归档频道", "en": "archive the channel"},
    "op_post_scorecard": {"zh": "发布演练评分", "en": "post the drill scorecard"},
    "op_suggest_resolve": {"zh": "提示可以宣布解决", "en": "suggest resolving"},
    "op_tell_refire": {"zh": "通知告警再次触发", "en": "say alerts fire again"},
    "op_provision": {"zh": "准备清单、时限和角色", "en": "prepare the checklist, clocks and roles"},
    "op_assign_role": {"zh": "指定角色（旧版本排队的请求，请重新指定）", "en": "assign the role (queued by an older version: assign it again)"},
    "op_check_holder": {"zh": "核对角色负责人", "en": "check the new role holder"},
    "op_tell_assigner": {"zh": "通知指定人", "en": "tell who assigned the role"},
    "op_cancel_timer": {"zh": "取消提醒", "en": "cancel a reminder"},
    "op_brief_role_holder": {"zh": "私信告知角色职责", "en": "brief the role holder"},
    "op_tell_previous_holder": {"zh": "通知原角色负责人", "en": "tell the previous holder"},
}


def pick(language: str, zh: str, en: str) -> str:
    """The Chinese or the English of an inline message, by the incident's language."""
    return zh if language == "zh" else en


def t(name: str, language: str, /, **values: Any) -> str:
    """The message `name` in `language` (falling back to English), with values filled in."""
    entry = MESSAGES[name]
    return entry.get(language, entry["en"]).format(**values)
