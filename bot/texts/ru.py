"""Russian texts (HTML): the English catalog's keys and placeholders (tests/test_texts.py)."""

RU: dict[str, str] = {
    "start": (
        "👋 <b>Привет! Пришлите фото с подписью — я сделаю из него короткое видео.</b>\n"
        "Не знаете, что написать? Выберите идею ниже и пришлите фото. {quota} бесплатных "
        "кредитов в день."
    ),
    "help": (
        "<b>Как мной пользоваться</b>\n"
        "1. Пришлите фото (или изображение файлом) с подписью: подпись — это описание видео.\n"
        "2. Выберите настройки кнопками и нажмите <b>Создать</b>.\n"
        "3. Следите за сообщением о статусе; видео придёт ответом на ваше фото. "
        "Пока оно создаётся, его можно отменить.\n\n"
        "Если что-то не получится, кредиты вернутся. Фото: JPEG, PNG, WebP или HEIC, до "
        "20 МБ. В группах начните подпись с /video или упомяните меня.\n"
        "Команды: /balance, /jobs, /resend &lt;номер&gt;, /language, /help."
    ),
    "balance": (
        "💳 <b>Ваши кредиты</b>\nСегодня: {daily} из {quota} (новые через {reset_in})\n"
        "Подарочные: {granted}\nВсего можно потратить сейчас: <b>{total}</b>"
    ),
    "balance_unlimited": "💳 Вы администратор: для вас генерация бесплатна.",
    "need_photo": (
        "📷 Пришлите мне <b>фото</b> с подписью о том, какое движение нужно, и я превращу его "
        "в видео. Подробнее — /help."
    ),
    "not_an_image": (
        "⚠️ Этот файл не подходит: это не изображение. Пришлите фото или файл JPEG, PNG, WebP "
        "или HEIC."
    ),
    "photo_unreadable": "⚠️ Не удалось прочитать изображение. Попробуйте отправить его как фото.",
    "photo_too_big_file": (
        "⚠️ Файл слишком большой: Telegram позволяет ботам скачивать не больше 20 МБ. "
        "Отправьте его как фото (Telegram его сожмёт) или пришлите файл поменьше."
    ),
    "photo_too_small": (
        "⚠️ Размер фото {width}×{height} пикс., а модели {model} нужно не меньше {min_side} пикс. "
        "по каждой стороне. Пришлите фото побольше или выберите другую модель."
    ),
    "photo_too_elongated": (
        "⚠️ Фото слишком вытянутое для {model} (соотношение {ratio}:1, допустимо не больше "
        "{max_aspect}:1). Обрежьте его ближе к обычной форме или выберите другую модель."
    ),
    "photo_unsupported": (
        "⚠️ Я не могу преобразовать этот формат. Пришлите изображение JPEG, PNG или WebP "
        "либо обычное фото."
    ),
    "photo_download_failed": (
        "⚠️ Не удалось скачать ваше фото из Telegram. Пожалуйста, отправьте его ещё раз."
    ),
    "options": (
        "🎬 <b>Настройки видео:</b> {summary}\n"
        "Описание: {prompt}\n"
        "Модель: {model} · {wait}\n"
        "Цена: <b>{price}</b> · ваш баланс: {balance}"
    ),
    "options_album": "ℹ️ Я беру первое фото из альбома.",
    "no_prompt": (
        "<i>нет: модель сама придумает движение (ответьте на это сообщение, чтобы добавить)</i>"
    ),
    "ask_prompt": (
        "✍️ Что должно происходить в видео? Ответьте на это сообщение коротким описанием."
    ),
    "ask_prompt_optional": (
        "✍️ Что должно происходить в видео? Ответьте коротким описанием или просто нажмите "
        "«Создать» — модель решит сама."
    ),
    "credits_n": "{n} кред.",
    "credit_one": "{n} кредит",
    "credit_few": "{n} кредита",
    "credit_many": "{n} кредитов",
    "unit_seconds": "{n} с",
    "mode_fun": "Весёлый",
    "mode_normal": "Обычный",
    "mode_spicy": "🔞 Смелый",
    "btn_generate": "▶️ Создать · {price}",
    "btn_cancel": "✖️ Отмена",
    "btn_retry": "🔁 Ещё раз",
    "btn_again": "🔁 Ещё раз · {price}",
    "btn_change": "⚙️ Настройки",
    "btn_no_prompt": "Без описания",
    "row_model": "Модель",
    "status_reserved": "⏳ <b>В очереди</b> · {model} · {options}\nОписание: {prompt}",
    "status_submitted": (
        "🎨 <b>Создаётся</b>{progress} · прошло {elapsed}{eta}\n{model} · {options}\n"
        "Описание: {prompt}"
    ),
    "status_downloading": "📥 <b>Получаю</b> видео…\n{model} · {options}",
    "status_preparing": "🎞️ <b>Готовлю</b> видео…\n{model} · {options}",
    "status_sending": "📤 <b>Отправляю</b> видео…\n{model} · {options}",
    "status_delivered": "✅ <b>Готово!</b> Видео — ниже. ({model} · {options})",
    "status_cancelled": "✖️ <b>Отменено.</b>{refund}",
    "status_failed": "❌ <b>Не получилось:</b> {reason}{refund}",
    "status_expired": "⌛ <b>Слишком долго</b> — задание остановлено.{refund}",
    "eta": " · осталось около {eta}",
    "refunded": " Возвращено: {credits}.",
    "progress": " {pct}%",
    "caption": "🎬 {prompt}\n<i>{model} · {options}</i>",
    "fail_content_policy": (
        "сервис видео отклонил это фото или описание (его правила о содержании). "
        "Измените описание или пришлите другое фото."
    ),
    "fail_validation": (
        "сервис не смог использовать это фото или эти настройки. Попробуйте другое фото."
    ),
    "fail_timeout": "сервис отвечал слишком долго. Пожалуйста, попробуйте позже.",
    "fail_upstream": "у сервиса видео возникла проблема. Попробуйте через несколько минут.",
    "fail_unavailable": "сервис видео сейчас недоступен. Пожалуйста, попробуйте позже.",
    "fail_unknown_outcome": (
        "я потерял связь с сервисом видео во время отправки задания, поэтому остановил его."
    ),
    "fail_download": "не удалось скачать готовое видео. Пожалуйста, попробуйте ещё раз.",
    "fail_send": "Telegram не принял видео. Пожалуйста, попробуйте ещё раз.",
    "fail_photo": "не удалось подготовить ваше фото ({detail}).",
    "too_big_link": (
        "📦 Видео весит {size_mb} МБ — больше, чем Telegram позволяет загружать ботам (50 МБ). "
        "Скачайте его по ссылке (она работает до {expires}):\n{url}"
    ),
    "no_credits": (
        "😔 Не хватает кредитов: это стоит {price}, у вас {balance}. "
        "Ежедневные кредиты обновятся через {reset_in}. Выберите вариант дешевле (короче или "
        "в более низком качестве)."
    ),
    "too_many_active": (
        "⏳ У вас уже создаются видео ({n}). Дождитесь, пока одно закончится, и нажмите "
        "«Создать» снова."
    ),
    "cancel_too_late": "Видео уже отправляется.",
    "cancelled_alert": "Отменено.",
    "not_your_button": "Эти кнопки может нажимать только тот, кто заказал это видео.",
    "stale_button": "Эта кнопка устарела. Пришлите фото ещё раз.",
    "generating_alert": "Начали! Пришлю видео ответом.",
    "jobs_empty": "У вас пока нет видео. Пришлите фото, чтобы создать первое.",
    "jobs_header": "<b>Ваши последние видео</b>",
    "jobs_line": "{n}. {prompt} · {status} · {when}",
    "resend_usage": "Использование: /resend &lt;номер&gt; (см. /jobs).",
    "resend_not_found": "Не нахожу вашего готового видео №{id}.",
    "language_choose": "Выберите язык:",
    "language_set": "Язык изменён на русский.",
    "unknown_command": "Я не знаю такой команды. /help покажет, что я умею.",
    "internal_error": "😵 У меня что-то пошло не так. Пожалуйста, попробуйте ещё раз.",
    "banned": "К сожалению, вы не можете пользоваться этим ботом.",
    "admin_granted": "Пользователю {user} начислено кредитов: {n}. Его баланс: {total}.",
    "admin_usage_grant": "Использование: /grant &lt;user_id&gt; &lt;кредиты&gt;",
    "admin_usage_ban": "Использование: /ban &lt;user_id&gt; или /unban &lt;user_id&gt;",
    "admin_banned": "Пользователь {user} заблокирован.",
    "admin_unbanned": "Пользователь {user} разблокирован.",
    "operator_alert": "⚠️ <b>Сигнал оператору</b> ({provider}): {kind}. {detail}",
    "status_word_draft": "черновик",
    "status_word_reserved": "в очереди",
    "status_word_submitting": "отправляется",
    "status_word_submitted": "создаётся",
    "status_word_downloading": "скачивается",
    "status_word_sending": "отправляется в чат",
    "status_word_delivered": "готово",
    "status_word_failed": "ошибка",
    "status_word_cancelled": "отменено",
    "status_word_expired": "истекло",
    # Operator side (/stats, /ban), /language and durations.
    "language_name": "Русский",
    "admin_cannot_ban_admin": "Пользователь {user} — администратор, его нельзя заблокировать.",
    "admin_stats_title": "📊 <b>Статистика</b> · {now} UTC",
    "admin_stats_today": "Сегодня",
    "admin_stats_week": "Последние 7 дней",
    "admin_stats_period": "<b>{title}</b> (с {since}): заданий — {jobs}",
    "admin_stats_model": "• {model}: {states}",
    "admin_stats_failures": "Ошибки: {kinds}",
    "admin_stats_credits": "Потрачено кредитов: {n}",
    "admin_stats_median": "Медианное время до видео: {duration} (доставлено: {n})",
    "admin_stats_median_none": "Медианное время до видео: ни одного видео не доставлено",
    "admin_stats_none": "нет",
    "duration_min_s": "{m} мин {s} с",
    "duration_h_min": "{h} ч {m} мин",
    # issue 14: what people see on their phones
    "options_group": (
        "🎬 <b>Видео для {owner}:</b> {summary}\n"
        "Описание: {prompt}\n"
        "Модель: {model} · {wait}\n"
        "Цена: <b>{price}</b>"
    ),
    "prompt_needed": "<i>нужно: ответьте на это сообщение, что должно происходить</i>",
    "wait_fast": "готово примерно за минуту",
    "wait_minutes": "обычно около {m} мин",
    "wait_long": "может занять до {m} мин",
    "quality_480p": "SD 480p",
    "quality_720p": "HD 720p",
    "quality_1080p": "Full HD 1080p",
    "aspect_auto": "Авто",
    "price_extra": "+{n}",
    "photo_small_warning": (
        "ℹ️ Фото маленькое ({width}×{height}): видео получится нечётким. "
        "С фото побольше результат будет резче."
    ),
    "spicy_notice": (
        "🔞 «Смелый» — режим 18+, в нём может быть откровенное содержание. Выбирайте его, "
        "только если вам есть 18."
    ),
    "btn_more": "⚙️ Настройки",
    "btn_new_description": "✍️ Другое описание",
    "owner_suffix": " · для {owner}",
    "status_pointer_failed": "❌ <b>Не получилось.</b> Подробности ниже.",
    "status_pointer_expired": "⌛ <b>Слишком долго.</b> Подробности ниже.",
    "someone": "участника",
    "duration_s": "{s} с",
    "jobs_no_prompt": "<i>без описания</i>",
    "btn_send_again": "▶️ Прислать · {n}",
    "resend_gone": "Этого видео больше нет в вашем списке.",
    "preset_smile": "😊 Улыбка и взмах",
    "preset_smile_prompt": "человек улыбается и машет рукой в камеру",
    "preset_wind": "🌬 Ветер в волосах",
    "preset_wind_prompt": "лёгкий ветер шевелит волосы и одежду",
    "preset_zoom": "🎥 Плавный наезд",
    "preset_zoom_prompt": "камера медленно приближается",
    "preset_turn": "🙂 Поворот головы",
    "preset_turn_prompt": "человек медленно поворачивает голову и смотрит в камеру",
    "preset_chosen": "✅ Понял: «{prompt}». Теперь пришлите фото.",
    "prompt_placeholder": "например: кот поворачивает голову и улыбается",
    "months": "янв фев мар апр мая июн июл авг сен окт ноя дек",
    "date_format": "{day} {month}, {time}",
    "cmd_start": "Что умеет бот",
    "cmd_help": "Как пользоваться",
    "cmd_balance": "Сколько кредитов осталось",
    "cmd_jobs": "Ваши последние видео",
    "cmd_language": "Сменить язык",
    "cmd_video": "Сделать видео из фото, на которое вы отвечаете",
    "bot_short_description": "Превращает фото и пару слов в короткое видео.",
    "bot_description": (
        "Пришлите фото с подписью («кот поворачивает голову и улыбается») и получите короткое "
        "видео. Каждый день — несколько бесплатных кредитов."
    ),
    "need_description_alert": "✍️ Сначала ответьте на это сообщение: что должно происходить?",
}
