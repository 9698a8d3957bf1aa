"""Slack's error codes for every Web API method the bot calls, each sorted by what it asks of the caller.

The codes are those Slack's method reference lists under "Errors" (docs.slack.dev/reference/methods/<method>),
with the codes earlier revisions of the reference listed (Slack still answers some of them, such as
`user_is_ultra_restricted` and `too_many_users` on conversations.invite) and the few Slack answers without
documenting them, marked where they appear. Codes every method shares are in COMMON; a method's own entry wins
(conversations.invite's `no_permission` is about one invitee, elsewhere it is about the token).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What a failed call asks of the caller."""

    RATELIMITED = "ratelimited"  # wait as long as Slack says, then try again
    TRANSIENT = "transient"  # Slack's own passing trouble: back off and try again a few times
    PERMANENT = "permanent"  # the request, the token or the workspace is wrong: trying again cannot help
    PERSON = "person"  # Slack refuses one person (of several): act for each of the others on their own


def _codes(*, permanent: str = "", transient: str = "", person: str = "", ratelimited: str = "") -> dict[str, ErrorKind]:
    """A method's codes, written as space-separated names per kind so the table reads like the reference."""
    kinds = {ErrorKind.PERMANENT: permanent, ErrorKind.TRANSIENT: transient, ErrorKind.PERSON: person,
             ErrorKind.RATELIMITED: ratelimited}
    return {code: kind for kind, names in kinds.items() for code in names.split()}


# Codes every method may answer (the reference repeats them on each method's page).
COMMON = _codes(
    ratelimited="ratelimited",
    transient="internal_error fatal_error service_unavailable request_timeout",
    permanent="""
        access_denied accesslimited account_inactive deprecated_endpoint ekm_access_denied enterprise_is_restricted
        invalid_arg_name invalid_arguments invalid_array_arg invalid_auth invalid_charset invalid_form_data invalid_json
        invalid_post_type is_bot json_not_object method_deprecated missing_charset missing_post_type missing_scope
        no_permission not_allowed_token_type not_authed org_login_required superfluous_charset team_access_not_granted
        team_added_to_org token_expired token_revoked two_factor_setup_required unknown_method upgrade_required
    """,
)

# The methods the bot calls (files_upload_v2 is files.getUploadURLExternal, then files.completeUploadExternal).
METHODS: dict[str, dict[str, ErrorKind]] = {
    "auth.test": _codes(),
    "chat.postMessage": _codes(
        ratelimited="rate_limited",  # Slack's per-channel message limit, answered without a 429
        permanent="""
            app_access_restricted as_user_not_supported attachment_payload_limit_exceeded cannot_reply_to_message
            channel_not_found draft_already_deleted draft_already_sent draft_has_conflict draft_not_found
            duplicate_channel_not_found duplicate_message_not_found invalid_blocks invalid_blocks_format
            invalid_metadata_format invalid_metadata_schema is_archived markdown_text_conflict message_limit_exceeded
            messages_tab_disabled metadata_must_be_sent_from_app metadata_too_large missing_file_data
            msg_blocks_too_long msg_too_long no_text not_in_channel restricted_action
            restricted_action_non_threadable_channel restricted_action_read_only_channel
            restricted_action_thread_locked restricted_action_thread_only_channel send_on_behalf_not_allowed
            slack_connect_canvas_link_sharing_blocked slack_connect_canvas_sharing_blocked
            slack_connect_file_link_sharing_blocked slack_connect_lists_sharing_blocked slack_connect_team_blocked
            team_not_found too_many_attachments too_many_contact_cards
            thread_not_found
        """,  # thread_not_found: the sandbox's answer to an unknown thread_ts
    ),
    "chat.update": _codes(
        ratelimited="rate_limited",
        transient="update_failed",  # "internal update failure"
        permanent="""
            as_user_not_supported block_mismatch blocked_file_type cant_broadcast_message cant_update_message
            channel_not_found edit_window_closed external_channel_migrating file_deleted file_is_deleted
            file_not_found file_share_limit_reached invalid_attachments invalid_blocks invalid_blocks_format
            invalid_metadata_format invalid_metadata_schema is_inactive markdown_text_conflict
            max_file_sharing_exceeded message_limit_exceeded message_not_found metadata_must_be_sent_from_app
            metadata_too_large msg_too_long no_dual_broadcast_content_update no_text posting_to_channel_denied
            slack_connect_blocked_file_type slack_connect_canvas_sharing_blocked slack_connect_clip_sharing_blocked
            slack_connect_file_link_sharing_blocked slack_connect_file_upload_sharing_blocked streaming_state_conflict
            team_not_found too_many_attachments unable_to_share_files
            is_archived
        """,  # is_archived: the sandbox's word for the reference's is_inactive
    ),
    "chat.getPermalink": _codes(permanent="channel_not_found message_not_found"),
    "conversations.create": _codes(permanent="""
        cannot_create_channel canvas_disabled_user_team invalid_name invalid_name_maxlength invalid_name_punctuation
        invalid_name_required invalid_name_specials method_not_supported_for_channel_type missing_argument name_taken
        no_channel restricted_action user_is_bot user_is_restricted
    """),
    "conversations.invite": _codes(
        permanent="""
            already_in_channel app_cannot_join_channel channel_not_found external_channel_migrating is_archived
            method_not_supported_for_channel_type not_in_channel user_is_bot
        """,
        person="""
            cant_invite cant_invite_self invitee_cant_see_channel no_external_invite_permission no_permission no_user
            org_user_not_in_team too_many_users ura_max_channels user_is_restricted user_is_ultra_restricted
            user_not_found user_is_deleted
        """,  # user_is_deleted: the sandbox's answer for a deactivated invitee (the reference names none)
    ),
    "conversations.setTopic": _codes(permanent="""
        channel_not_found is_archived method_not_supported_for_channel_type not_in_channel too_long user_is_restricted
    """),
    "conversations.setPurpose": _codes(permanent="""
        channel_not_found is_archived method_not_supported_for_channel_type not_in_channel too_long user_is_restricted
    """),
    "conversations.join": _codes(permanent="""
        channel_is_limited_access channel_not_found is_archived method_not_supported_for_channel_type too_many_members
        user_is_bot user_is_restricted user_is_ultra_restricted
    """),
    "conversations.list": _codes(permanent="""
        invalid_cursor invalid_limit invalid_types method_not_supported_for_channel_type missing_argument
    """),
    "conversations.history": _codes(permanent="""
        channel_is_limited_access channel_not_found invalid_cursor invalid_metadata_filter_keys invalid_ts_latest
        invalid_ts_oldest not_in_channel
    """),
    "conversations.replies": _codes(
        transient="list_record_comment_fetch_failed",
        permanent="""
            channel_not_found invalid_cursor invalid_metadata_filter_keys invalid_ts_latest invalid_ts_oldest
            method_not_supported_for_channel_type thread_not_found
            not_in_channel
        """,  # not_in_channel: the sandbox's, as for conversations.history
    ),
    "conversations.open": _codes(
        person="cannot_dm_bot user_disabled user_not_found user_not_visible",  # cannot_dm_bot: Slack's, undocumented
        permanent="""
            channel_not_found invalid_user_combination method_not_supported_for_channel_type not_enough_users
            too_many_users users_list_not_supplied
            not_supported
        """,  # not_supported: the sandbox's, which keeps no group DMs
    ),
    "conversations.archive": _codes(permanent="""
        already_archived cant_archive_general cant_archive_required channel_not_found
        method_not_supported_for_channel_type not_in_channel not_supported restricted_action user_is_bot
        user_is_restricted user_is_ultra_restricted
    """),
    "pins.add": _codes(permanent="""
        already_pinned bad_timestamp channel_not_found external_channel_migrating file_not_found file_not_shared
        message_not_found no_item_specified not_in_channel not_pinnable permission_denied restricted_action too_many_pins
        is_archived
    """),  # is_archived: the sandbox's
    "users.info": _codes(person="user_not_found user_not_visible", permanent="too_many_users"),
    "views.open": _codes(permanent="""
        duplicate_external_id exchanged_trigger_id expired_trigger_id invalid_trigger_id view_too_large
    """),
    "files.getUploadURLExternal": _codes(permanent="""
        alt_txt_too_large file_type_not_allowed file_upload_size_restricted file_uploads_disabled
        file_uploads_except_images_disabled missing_argument snippet_too_large storage_limit_reached
        unknown_snippet_type unknown_subtype
    """),
    "files.completeUploadExternal": _codes(
        transient="file_update_failed",  # "failure occurred when attempting to update the file"
        permanent="""
            channel_not_found channels_limit_exceeded file_not_found file_type_not_allowed
            file_uploads_except_images_disabled invalid_blocks invalid_channel not_in_channel posting_to_channel_denied
            file_upload_not_completed is_archived
        """,  # the last two: the sandbox's
    ),
}


def kind_of(method: str | None, code: str) -> ErrorKind | None:
    """The kind of a code as the table has it for this method (or for every method); None if it is not there."""
    return METHODS.get(method or "", {}).get(code) or COMMON.get(code)
