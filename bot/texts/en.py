"""English texts (HTML). Keys are shared with every other language catalog."""

EN: dict[str, str] = {
    "start": (
        "👋 <b>Hi! I turn a photo into a short video.</b>\n\n"
        "Send me a photo with a caption describing the motion you want (for example "
        "<i>“the cat turns its head and smiles”</i>). I will show options: model, style, "
        "length and quality. Press <b>Generate</b> and the video arrives here in a few "
        "minutes.\n\n"
        "You get {quota} free credits every day (UTC). /balance shows what is left, "
        "/jobs your recent videos, /language changes the language."
    ),
    "help": (
        "<b>How to use me</b>\n"
        "1. Send a photo (or an image file) with a caption: the caption is the prompt.\n"
        "2. Pick the options on the buttons and press <b>Generate</b>.\n"
        "3. Watch the status message; the video arrives as a reply to your photo. "
        "You can cancel while it is being made.\n\n"
        "If something fails you get your credits back. Photos: JPEG, PNG, WebP or HEIC, up to "
        "20 MB. In groups, start the caption with /video or mention me.\n"
        "Commands: /balance, /jobs, /resend &lt;id&gt;, /language, /help."
    ),
    "balance": (
        "💳 <b>Your credits</b>\nToday: {daily} of {quota} (resets in {reset_in}, at 00:00 UTC)\n"
        "Granted: {granted}\nTotal you can spend now: <b>{total}</b>"
    ),
    "balance_unlimited": "💳 You are an admin: generations are free for you.",
    "need_photo": (
        "📷 Send me a <b>photo</b> with a caption describing the motion, and I will turn it "
        "into a video. /help explains more."
    ),
    "not_an_image": (
        "⚠️ That file is not an image I can use. Send a photo, or a JPEG, PNG, WebP or HEIC file."
    ),
    "photo_unreadable": "⚠️ I could not read that image. Try sending it as a photo instead.",
    "photo_too_big_file": (
        "⚠️ That file is too big: Telegram lets bots download at most 20 MB. "
        "Send it as a photo (Telegram compresses it) or a smaller file."
    ),
    "photo_too_small": (
        "⚠️ This photo is {width}×{height} px; {model} needs at least {min_side} px on each side. "
        "Send a larger photo or choose another model."
    ),
    "photo_too_elongated": (
        "⚠️ This photo is too long and thin for {model} (ratio {ratio}:1, at most {max_aspect}:1). "
        "Crop it closer to a normal shape or choose another model."
    ),
    "photo_unsupported": (
        "⚠️ I can't convert this image format. Send a JPEG, PNG or WebP image, or a normal photo."
    ),
    "photo_download_failed": (
        "⚠️ I couldn't download your photo from Telegram. Please send it again."
    ),
    "options": (
        "🎬 <b>Video options</b>\n"
        "Prompt: {prompt}\n"
        "Model: {model}\n"
        "Price: <b>{price}</b> · Your balance: {balance}\n\n"
        "Pick the options, then press Generate."
    ),
    "options_album": "ℹ️ I'm using the first photo of the album.",
    "no_prompt": "<i>(none: the model will improvise)</i>",
    "ask_prompt": (
        "✍️ What should happen in the video? Reply to this message with a short description."
    ),
    "ask_prompt_optional": (
        "✍️ What should happen in the video? Reply with a short description, or press "
        "“No prompt” to let the model improvise."
    ),
    "credits_n": "{n} credit(s)",
    "credit_one": "{n} credit",
    "credit_few": "{n} credits",
    "credit_many": "{n} credits",
    "unit_seconds": "{n} s",
    "mode_fun": "Fun",
    "mode_normal": "Normal",
    "mode_spicy": "Spicy",
    "btn_generate": "▶️ Generate · {price}",
    "btn_cancel": "✖️ Cancel",
    "btn_retry": "🔁 Try again",
    "btn_again": "🔁 Again",
    "btn_change": "⚙️ Change options",
    "btn_no_prompt": "No prompt",
    "row_model": "Model",
    "status_reserved": "⏳ <b>Queued</b> · {model} · {options}\nPrompt: {prompt}",
    "status_submitted": (
        "🎨 <b>Generating</b>{progress} · {elapsed} elapsed{eta}\n{model} · {options}\n"
        "Prompt: {prompt}"
    ),
    "status_downloading": "📥 <b>Downloading</b> the video…\n{model} · {options}",
    "status_preparing": "🎞️ <b>Preparing</b> the video…\n{model} · {options}",
    "status_sending": "📤 <b>Sending</b> the video…\n{model} · {options}",
    "status_delivered": "✅ <b>Done!</b> Your video is above. ({model} · {options})",
    "status_cancelled": "✖️ <b>Cancelled.</b>{refund}",
    "status_failed": "❌ <b>Failed:</b> {reason}{refund}",
    "status_expired": "⌛ <b>Took too long</b> and was stopped.{refund}",
    "eta": " · about {eta} left",
    "refunded": " {credits} refunded.",
    "progress": " {pct}%",
    "caption": "🎬 {prompt}\n<i>{model} · {options}</i>",
    "fail_content_policy": (
        "the provider refused this prompt or photo (content policy). Try another prompt or photo."
    ),
    "fail_validation": (
        "the provider could not use this photo or these options. Try another photo."
    ),
    "fail_timeout": "the provider took too long. Please try again later.",
    "fail_upstream": "the video service had a problem. Please try again in a few minutes.",
    "fail_unavailable": ("the video service is unavailable right now. Please try again later."),
    "fail_unknown_outcome": (
        "I lost contact with the video service while submitting, so I stopped this job."
    ),
    "fail_download": "I could not download the finished video. Please try again.",
    "fail_send": "Telegram refused the video. Please try again.",
    "fail_photo": "your photo could not be prepared ({detail}).",
    "too_big_link": (
        "📦 The video is {size_mb} MB, more than Telegram lets bots upload (50 MB). "
        "Download it here (the link works until {expires}):\n{url}"
    ),
    "no_credits": (
        "😔 Not enough credits: this costs {price}, you have {balance}. "
        "Your daily credits reset in {reset_in}. Try a cheaper option (shorter or lower quality)."
    ),
    "too_many_active": (
        "⏳ You already have {n} videos being made. Wait for one to finish, then press "
        "Generate again."
    ),
    "cancel_too_late": "The video is already being delivered.",
    "cancelled_alert": "Cancelled.",
    "not_your_button": "Only the person who asked for this video can use these buttons.",
    "stale_button": "This button has expired. Send the photo again.",
    "generating_alert": "Started! I'll reply with the video.",
    "jobs_empty": "You have no videos yet. Send a photo to make one.",
    "jobs_header": "<b>Your recent videos</b>",
    "jobs_line": "#{id} · {status} · {model} · {when}",
    "resend_usage": "Usage: /resend &lt;id&gt; (see /jobs).",
    "resend_not_found": "I can't find a delivered video #{id} of yours.",
    "language_choose": "Choose your language:",
    "language_set": "Language set to English.",
    "unknown_command": "I don't know that command. /help lists what I can do.",
    "internal_error": "😵 Something went wrong on my side. Please try again.",
    "banned": "Sorry, you can't use this bot.",
    "admin_granted": "Granted {n} credit(s) to {user}. Their balance: {total}.",
    "admin_usage_grant": "Usage: /grant &lt;user_id&gt; &lt;credits&gt;",
    "admin_usage_ban": "Usage: /ban &lt;user_id&gt; or /unban &lt;user_id&gt;",
    "admin_banned": "User {user} is banned.",
    "admin_unbanned": "User {user} is unbanned.",
    "operator_alert": "⚠️ <b>Operator alert</b> ({provider}): {kind}. {detail}",
    "status_word_draft": "draft",
    "status_word_reserved": "queued",
    "status_word_submitting": "submitting",
    "status_word_submitted": "generating",
    "status_word_downloading": "downloading",
    "status_word_sending": "sending",
    "status_word_delivered": "delivered",
    "status_word_failed": "failed",
    "status_word_cancelled": "cancelled",
    "status_word_expired": "expired",
    # Operator side (/stats, /ban), /language and durations.
    "language_name": "English",
    "admin_cannot_ban_admin": "User {user} is an admin and can't be banned.",
    "admin_stats_title": "📊 <b>Statistics</b> · {now} UTC",
    "admin_stats_today": "Today",
    "admin_stats_week": "Last 7 days",
    "admin_stats_period": "<b>{title}</b> (since {since}): {jobs} job(s)",
    "admin_stats_model": "• {model}: {states}",
    "admin_stats_failures": "Failures: {kinds}",
    "admin_stats_credits": "Credits spent: {n}",
    "admin_stats_median": "Median time to video: {duration} ({n} delivered)",
    "admin_stats_median_none": "Median time to video: no video delivered",
    "admin_stats_none": "none",
    "duration_min_s": "{m} min {s} s",
    "duration_h_min": "{h} h {m} min",
    # issue 13: hostile input
    "limit_slow_down": "Too many photos at once. Please wait a minute and send them again.",
    "limit_drafts": (
        "You already have {n} photos waiting for ▶️ Generate. Generate one of them, or wait "
        "a few hours until they expire, then send this photo again."
    ),
}
