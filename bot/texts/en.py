"""English texts (HTML). Keys are shared with every other language catalog."""

EN: dict[str, str] = {
    "start": (
        "👋 <b>Hi! Send me a photo with a caption and I will make it a short video.</b>\n"
        "No idea what to write? Tap one below, then send the photo. {quota} free credits a day."
    ),
    "help": (
        "<b>How to use me</b>\n"
        "1. Send a photo (or an image file) with a caption: the caption is the prompt.\n"
        "2. Pick the options on the buttons and press <b>Generate</b>.\n"
        "3. Watch the status message; the video arrives as a reply to your photo. "
        "You can cancel while it is being made.\n\n"
        "If something fails you get your credits back. Photos: JPEG, PNG, WebP or HEIC, up to "
        "20 MB. In groups, start the caption with /video or mention me.\n"
        "Commands: /balance, /jobs (with a button to get each video again), /language, /help."
    ),
    "balance": (
        "💳 <b>Your credits</b>\nToday: {daily} of {quota} (new ones in {reset_in})\n"
        "Gift credits: {granted}\nTotal you can spend now: <b>{total}</b>"
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
        "🎬 <b>Video options:</b> {summary}\n"
        "Description: {prompt}\n"
        "Model: {model} · {wait}\n"
        "Price: <b>{price}</b> · Your balance: {balance}"
    ),
    "options_album": "ℹ️ I'm using the first photo of the album.",
    "no_prompt": "<i>none: the model decides the motion (reply to this message to add one)</i>",
    "ask_prompt": (
        "✍️ What should happen in the video? Reply to this message with a short description."
    ),
    "ask_prompt_optional": (
        "✍️ What should happen in the video? Reply with a short description, or just press "
        "Generate and the model will decide."
    ),
    "credit_one": "{n} credit",
    "credit_few": "{n} credits",
    "credit_many": "{n} credits",
    "unit_seconds": "{n} s",
    "mode_fun": "Fun",
    "mode_normal": "Normal",
    "mode_spicy": "🔞 Spicy",
    "btn_generate": "▶️ Generate · {price}",
    "btn_cancel": "✖️ Cancel",
    "btn_retry": "🔁 Try again",
    "btn_again": "🔁 Again · {price}",
    "btn_change": "⚙️ Change options",
    "status_reserved": "⏳ <b>Queued</b> · {model} · {options}\nPrompt: {prompt}",
    "status_submitted": (
        "🎨 <b>Generating</b>{progress} · {elapsed} elapsed{eta}\n{model} · {options}\n"
        "Prompt: {prompt}"
    ),
    "status_downloading": "📥 <b>Receiving</b> the video…\n{model} · {options}",
    "status_preparing": "🎞️ <b>Preparing</b> the video…\n{model} · {options}",
    "status_sending": "📤 <b>Sending</b> the video…\n{model} · {options}",
    "status_delivered": "✅ <b>Done!</b> The video is below. ({model} · {options})",
    "status_cancelled": "✖️ <b>Cancelled.</b>{refund}",
    "status_failed": "❌ <b>Failed:</b> {reason}{refund}",
    "status_expired": "⌛ <b>Took too long</b> and was stopped.{refund}",
    "eta": " · about {eta} left",
    "refunded": " {credits} refunded.",
    "progress": " {pct}%",
    "caption": "🎬 {prompt}\n<i>{model} · {options}</i>",
    "fail_content_policy": (
        "the video service refused this photo or description (its content rules). "
        "Change the description or send another photo."
    ),
    "fail_validation": (
        "the video service could not use this photo with these options. Try another photo."
    ),
    "fail_timeout": "the video service took too long. Please try again later.",
    "fail_upstream": "the video service had a problem. Please try again in a few minutes.",
    "fail_unavailable": ("the video service is unavailable right now. Please try again later."),
    "fail_unknown_outcome": (
        "I lost contact with the video service while submitting, so I stopped this job."
    ),
    "fail_download": "I could not download the finished video. Please try again.",
    "fail_send": "Telegram refused the video. Please try again.",
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
    "jobs_line": "{n}. {prompt} · {status} · {when}",
    "resend_usage": "/jobs lists your videos with a ▶️ button to get each one again.",
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
    # issue 11: providers as they really are
    "status_queued_ahead": (
        "⏳ <b>In the queue</b> · {ahead} ahead of yours. It starts as soon as the video "
        "service has room; the wait does not count against its time limit.\n"
        "{model} · {options}\nPrompt: {prompt}"
    ),
    "fail_prompt": "the provider refused this prompt. Try rewording it.",
    "too_big_link_no_expiry": (
        "📦 The video is {size_mb} MB, more than Telegram lets bots upload (50 MB). "
        "Download it here soon, the link is temporary:\n{url}"
    ),
    "english_only_note": (
        "ℹ️ {model} works best with prompts in English here. Write the prompt in English for "
        "the best result."
    ),
    "btn_again_same_seed": "🎲 Again, same seed",
    "jobs_seed": " · seed {seed}",
    "admin_stats_cost": "• {model} via {provider}: {jobs} job(s), {delivered} delivered, "
    "provider cost {cost} ({per_video} per video), credits charged {credits}",
    "admin_stats_cost_none": "Provider cost: nothing reported",
    "admin_stats_cost_title": "<b>Cost</b> (provider units, last 7 days)",
    "operator_low_balance": "balance {balance} is below {threshold}",
    # issue 15: Telegram Stars top-ups, refunds, referrals
    "pay_btn_topup": "⭐ Top up",
    "pay_btn_pack": "{credits} · {stars} ⭐",
    "pay_btn_open_private": "⭐ Buy in a private chat",
    "pay_btn_share": "📣 Invite a friend",
    "ref_share_text": "Turn a photo into a short video with this bot:",
    "pay_packs": (
        "⭐ <b>Top up with Telegram Stars</b>\nBought credits never expire. They are spent "
        "last: first today's free credits, then granted ones, then bought ones.\nPick a pack:"
    ),
    "pay_off": "Purchases are not available in this bot.",
    "pay_group": "⭐ Credits are bought in a private chat with me, so nobody else sees it. "
    "Press the button:",
    "pay_group_plain": "Credits are bought in a private chat with me: send me /buy there.",
    "pay_invoice_title": "{credits}",
    "pay_invoice_description": (
        "{credits} for turning photos into videos in this bot. Bought credits never expire."
    ),
    "pay_err_banned": "Purchases are not available for this account.",
    "pay_err_mismatch": (
        "This invoice does not belong to your account or was altered. Open /buy and pick a pack."
    ),
    "pay_err_stale": "This offer has changed since the invoice was made. Open /buy for the "
    "current packs; nothing was charged.",
    "pay_err_off": "Purchases are switched off at the moment; nothing was charged.",
    "pay_err_internal": "Something went wrong on our side; nothing was charged. Try again soon.",
    "pay_done": (
        "✅ Payment received: +{credits}. Your balance: <b>{total}</b>.\n"
        "Press ▶️ Generate on your photo to go on, or send a new photo."
    ),
    "pay_refunded": (
        "↩️ Your payment of {stars} ⭐ was refunded and {credits} taken back. "
        "Your balance: <b>{total}</b>."
    ),
    "pay_paysupport": (
        "💬 <b>Payment support</b>\nA problem with a purchase? Write to the operator of this "
        "bot and include the transaction ID from your payment receipt. Unused bought credits "
        "can be refunded in Stars; failed videos are refunded in credits automatically."
    ),
    "pay_terms": (
        "📄 <b>Terms</b>\n• Credits are a digital service of this bot only; they cannot be "
        "transferred or exchanged for money.\n• Bought credits never expire.\n• A video that "
        "fails is refunded in credits automatically.\n• Unused bought credits can be refunded "
        "in Stars through /paysupport.\n• Photos are kept only while a video is being made."
    ),
    "pay_balance_extra": (
        "\nBought: {bought} (never expire)\n"
        "Spent in this order: today's free credits, granted, bought."
    ),
    "ref_balance_line": (
        "\n\n🎁 Invite a friend with the button below: when their first video is ready, you "
        "both get {n}."
    ),
    "ref_welcome": (
        "🎁 You came with an invitation: when your first video is ready, you and your friend "
        "both get {n}."
    ),
    "ref_self": "That is your own invitation link: share it with friends instead.",
    "ref_existing": "Invitation links are for people new to this bot, so no bonus this time.",
    "ref_bonus": "🎁 Invitation bonus: +{n}. Your balance: <b>{total}</b>.",
    "pay_no_credit_cover": (
        "💡 Your {balance} still cover {model} · {options} ({price}): pick it above."
    ),
    "pay_no_credit_topup": "⭐ Or top up with Telegram Stars and go on right now.",
    "admin_refund_usage": (
        "Usage: /refund &lt;charge id&gt; (add <code>confirm</code> to refund even when "
        "credits of the purchase are spent)"
    ),
    "admin_refund_done": "Refunded {stars} ⭐ to user {user}; {taken} taken back.",
    "admin_refund_unknown": "No payment with charge id {charge}.",
    "admin_refund_already": "Payment {charge} was refunded already ({taken} taken back).",
    "admin_refund_spent": (
        "User {user} has only {left} bought credit(s) left of the {credits} this payment "
        "bought. To refund {stars} ⭐ anyway and take back what is left, send "
        "/refund {charge} confirm"
    ),
    "admin_refund_refused": "Telegram refused the refund: {error}",
    "admin_stats_stars_title": "<b>Telegram Stars</b> (last 7 days, UTC)",
    "admin_stats_stars_none": "No payments.",
    "admin_stats_stars_day": "{day}: received {received} ⭐, refunded {refunded} ⭐, "
    "credits sold {credits}",
    # issue 10: odd photos and broken results
    "photo_too_many_pixels": (
        "⚠️ This image has too many pixels: {megapixels} MP, and I can take at most "
        "{max_megapixels} MP of this kind. Send it as a photo (Telegram shrinks it) or a smaller "
        "image."
    ),
    "photo_damaged": (
        "⚠️ This image file is damaged: part of the picture is missing. Send the original photo "
        "again, or send it as a photo instead of a file."
    ),
    "fail_broken_result": (
        "the video service sent back a damaged video that does not play. Please try again."
    ),
    # issue 14: what people see on their phones
    "options_group": (
        "🎬 <b>Video for {owner}:</b> {summary}\n"
        "Description: {prompt}\n"
        "Model: {model} · {wait}\n"
        "Price: <b>{price}</b>"
    ),
    "prompt_needed": "<i>needed: reply to this message with what should happen</i>",
    "wait_fast": "ready in about a minute",
    "wait_minutes": "usually about {m} min",
    "wait_long": "can take up to {m} min",
    "quality_480p": "SD 480p",
    "quality_720p": "HD 720p",
    "quality_1080p": "Full HD 1080p",
    "aspect_auto": "Auto",
    "price_extra": "+{n}",
    "photo_small_warning": (
        "ℹ️ This photo is small ({width}×{height}): the video will look soft. "
        "A larger photo gives a sharper result."
    ),
    "spicy_notice": (
        "🔞 Spicy is an 18+ mode and may show adult content. Choose it only if you are 18+."
    ),
    "btn_more": "⚙️ Options",
    "btn_new_description": "✍️ New description",
    "owner_suffix": " · for {owner}",
    "status_pointer_failed": "❌ <b>Failed.</b> Details below.",
    "status_pointer_expired": "⌛ <b>Took too long.</b> Details below.",
    "someone": "someone",
    "duration_s": "{s} s",
    "jobs_no_prompt": "<i>no description</i>",
    "btn_send_again": "▶️ Send again · {n}",
    "resend_gone": "That video is no longer in your list.",
    "preset_smile": "😊 Smile and wave",
    "preset_smile_prompt": "the person smiles and waves at the camera",
    "preset_wind": "🌬 Wind in the hair",
    "preset_wind_prompt": "a gentle wind moves the hair and clothes",
    "preset_zoom": "🎥 Slow zoom in",
    "preset_zoom_prompt": "the camera slowly zooms in",
    "preset_turn": "🙂 Turn the head",
    "preset_turn_prompt": "the person slowly turns the head and looks at the camera",
    "preset_chosen": "✅ Got it: “{prompt}”. Now send the photo.",
    "prompt_placeholder": "e.g. the cat turns its head and smiles",
    "months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "date_format": "{month} {day}, {time}",
    "cmd_start": "What this bot does",
    "cmd_help": "How to use it",
    "cmd_balance": "Credits left today",
    "cmd_jobs": "Your recent videos",
    "cmd_language": "Change the language",
    "cmd_video": "Make a video from the photo you reply to",
    "cmd_buy": "Buy credits with Telegram Stars",
    "cmd_paysupport": "Help with a payment",
    "cmd_terms": "Terms of purchase",
    "bot_short_description": "Turns a photo and a few words into a short video.",
    "bot_description": (
        "Send a photo with a caption (“the cat turns its head and smiles”) and get a short "
        "video back. A few free credits every day."
    ),
    "need_description_alert": "✍️ First reply to this message with what should happen.",
    "sample_caption": "🎬 A photo becomes a clip like this one.",
    # issue 13: hostile input
    "limit_slow_down": "Too many photos at once. Please wait a minute and send them again.",
    "limit_drafts": (
        "You already have {n} photos waiting for ▶️ Generate. Generate one of them, or wait "
        "a few hours until they expire, then send this photo again."
    ),
    # issue 12: a house a newcomer can read
    "caption_no_prompt": "🎬 <i>{model} · {options}</i>",
    "this_model": "this model",
}
