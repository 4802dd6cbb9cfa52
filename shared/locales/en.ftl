# Kiosk's buyer-facing text in English. Every language is a file like this one, named by
# its language tag (zh-CN.ftl), with the same message ids; see README, "Languages".
# Placeholders ({ $title }) are filled by Kiosk; product titles are never translated.

language-name = English

## Formats

# A price: the currency's sign and the exact amount.
price-CNY = ¥{ $amount }
price-USD = ${ $amount }
price-EUR = €{ $amount }
price-GBP = £{ $amount }
price-JPY = JP¥{ $amount }
# Dates are shown in this time zone, named by `datetime` (minutes east of UTC).
time-zone-offset-minutes = 0
datetime = { $day } { $month_name } { $year }, { $hour }:{ $minute } UTC
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
downloads-count = { $count ->
    [one] { $count } download
   *[other] { $count } downloads
}
downloads-each = { $count ->
    [one] { $count } download
   *[other] { $count } downloads
} of each file

## Errors every page may show

error-title = Something went wrong
error-try-again = Please try again in a moment.
error-refresh = Please refresh this page in a moment.
not-found-title = Not found
not-found-body = There is nothing at this address.

## The hosted buy page

product-not-found-title = Product not found
product-not-found-body = There is no such product in this shop.
buy-view-only-title = Use the Buy Now button
buy-view-only-body = This page is only for viewing.
buy-about = Edition { $edition } · { $kind } · { $downloads }. The download link comes on the next page and by email.
buy-file = File
buy-includes = You get these files:
buy-stamped = PDFs are stamped with your email address and order number.
buy-unavailable = This product cannot be bought here right now.
buy-email-label = Your email
buy-email-help = Where we send your download link.
buy-pay-with = Pay with
channel-alipay = Alipay
channel-card = Card
channel-wechat = WeChat Pay
buy-button = Buy Now · { $price }
buy-other-language = Other languages
buy-amount-label = Pay what you want (at least { $min })
buy-amount-help = Suggested: { $suggested }. Up to { $max }.
buy-code-label = Discount code (optional)
buy-code-applied = Code { $code }: { $price } instead of { $was }.
buy-button-pwyw = Buy Now
buy-button-free = Email me the link
buy-free-note = Free: we email you the download link.
free-sent-title = Check your email
free-sent-body = We sent the download link for { $title } to { $email }. It may take a minute to arrive; please check your spam folder too.
free-confirm-title = Confirm your free copy
free-confirm-body = Shall we email the download link for { $title } to { $email }? Nothing is sent until you press the button.

## Checkout's answers

checkout-check-title = Please check your details
checkout-too-many-title = Too many checkouts
checkout-too-large-title = Request too large
checkout-unreadable = This request could not be read. Please go back and try again.
checkout-too-large = The request is larger than 16 KiB.
checkout-product = Please choose a product.
checkout-email = Please enter a valid email address: we send your download link there.
checkout-device = Please choose desktop or mobile.
checkout-channel = Please choose Alipay or Card.
checkout-channel-off = This shop does not take payments through { $channel }. Please choose another way to pay.
checkout-channel-currency = This product is priced in { $currency }, which this way to pay cannot take. Please choose another.
checkout-unknown-product = There is no such product in this shop.
checkout-amount-format = “{ $input }” is not an amount. Please pay at least { $min }, written like { $example }.
checkout-amount-low = Please pay at least { $min }.
checkout-amount-high = Please pay at most { $max }.
checkout-amount-fixed = This product has a fixed price of { $price }.
checkout-amount-channel = { $channel } cannot charge less than { $smallest }. Please pay more or choose another way to pay.
checkout-code-used-up = The discount code { $code } has been used up.
checkout-code-invalid = This discount code cannot be used here.
checkout-code-free = This product is free; it needs no discount code.
checkout-code-busy = Another checkout with this code is starting from your network. Please try again.
checkout-codes-too-many-title = Too many codes tried
checkout-codes-too-many = Too many discount codes that do not work were tried from your network. Please try again later.
checkout-code-pwyw = Discount codes do not apply to pay-what-you-want products.
checkout-free-too-many = Too many free copies were asked for from your network or for this address. Please try again later.
checkout-free-cap = This shop has sent as many free copies as it can for now. Please try again in an hour.
checkout-free-off = This shop cannot send free copies right now.
checkout-too-many = Too many checkouts were started from your network in the last hour. Please try again later; nothing was charged.
checkout-failed = We could not start your checkout. Please try again in a moment.
checkout-out-of-time = We could not start your checkout in time. Please try again in a moment.
redirecting-title = Redirecting
redirecting-heading = Taking you to the payment page…
redirecting-continue = Continue

## After paying

paid-title = Thank you
paid-heading = Thank you! Your purchase is ready.
paid-button = Go to your download
paid-sent = We also sent this link to { $email }. Keep it: it is yours alone.
page-help = Questions about your order? Write to { $help }.
order-number = Order { $order }
confirming-title = Confirming your payment
wechat-qr-title = Pay with WeChat
wechat-qr-heading = Scan with WeChat to pay
wechat-qr-body = Open WeChat on your phone, tap Scan, and pay { $amount } for { $title }. This page moves on to your download by itself once you have paid.
wechat-qr-time-left = { $minutes ->
    [one] 1 minute left to pay.
   *[other] { $minutes } minutes left to pay.
}
wechat-qr-inside = Reading this inside WeChat? WeChat's own browser cannot pay this code: open the page in your phone's browser to pay with WeChat Pay there, or scan the code from another screen.
wechat-qr-expired-heading = This payment code has expired
wechat-qr-expired-body = The time to pay for { $title } is up, and nothing was charged. Go back to the shop to buy it again.
confirming-heading = Confirming your payment…
confirming-body = We are waiting for the payment provider to confirm your payment for { $title }. This page refreshes by itself; your download link will appear here and in your email.
confirming-note = Order { $order }. If you cancelled the payment, you can close this page.
confirming-later-body = We could not get an answer from the payment provider just now. This page refreshes by itself; if you paid, your download link will appear here and in your email.
refunded-title = Order refunded
refunded-heading = This order was refunded
refunded-body = The payment for { $title } was returned, so there is no download for it. If this is a mistake, reply to your purchase email with order { $order }.
return-invalid-title = We could not verify this page
return-invalid-body = This return link is not a valid one from the payment provider. If you paid, your download link is on its way to your email.
order-not-found-title = Order not found
order-not-found-body = We have no record of this order. If you paid, please reply to your receipt email.

## The download page

download-title = Download { $title }
download-edition = Edition { $edition }
download-left = { $left } of { $limit ->
    [one] { $limit } download
   *[other] { $limit } downloads
} left.
download-per-file = The limit counts per file: each file can be downloaded { $limit ->
    [one] once
   *[other] { $limit } times
}.
download-used-up = All downloads of this file used.
download-stamped = Your PDFs carry your email address and order number on every page.
download-preparing = Your personal copy of { $file } is being made. This page reloads in a few seconds; then press its Download button again.
download-until = This link works until { $date }.
license-heading = Your license
license-key = License key (type it where the program asks for one):
license-signed = Signed license (for programs that check it without going online; copy all of it):
license-note = The key and the license are yours alone: please do not share them.
download-button = Download
download-note = Each click on Download uses one download. The file link it opens is valid for a few minutes.
resend-prompt = Lost a link? Enter the email you bought with and we will send you every link that still works.
resend-button = Email me my links
link-not-found-title = Link not found
link-not-found-heading = This download link does not exist
link-not-found-body = Please check that you copied the whole link from your email.
gone-exhausted-heading = All downloads used
gone-exhausted-body = You have used every download this purchase of { $title } allows.
gone-file-exhausted-heading = All downloads of this file used
gone-file-exhausted-body = You have used every download of this file that your purchase of { $title } allows. The purchase's other files are still on its download page.
gone-expired-heading = This link has expired
gone-expired-body = The download link for { $title } expired.
gone-expired-on-body = The download link for { $title } expired on { $date }.
gone-suspended-heading = This link is paused
gone-suspended-body = The card payment for { $title } is disputed with the card issuer, so its download link is paused until the dispute is settled.
gone-revoked-heading = This purchase was refunded
gone-revoked-body = The payment for { $title } was refunded, so its download link no longer works.
gone-help = Need it again or think this is a mistake? Write to { $help } and mention order { $order }.
resend-sent-title = Check your email
resend-sent-body = If that address bought something here, we have sent it every download link that still works. It can take a minute to arrive; please look in your spam folder too.
resend-sent-note = An address gets its links at most once every 10 minutes, and at most 5 times a day.
resend-bad-email-title = Please check the address
resend-bad-email-body = Please enter the email address you bought with, like name@example.com.
resend-no-email-title = Please enter your email
resend-no-email-body = We need the address you bought with.
resend-too-many-title = Too many requests
resend-too-many-body = There have been too many link requests from your network. Please try again in an hour.

## Mails

mail-purchase-subject = Your download: { $title }
mail-purchase-thanks = Thank you for buying { $title }.
mail-purchase-here = Download it here ({ $downloads }):
mail-purchase-button = Download { $title }
mail-link-allows = This link allows { $downloads }. If the button does not work, copy this address into your browser:
mail-order = Order: { $order }
mail-paid = Paid: { $amount }, { $date }
mail-free = A free copy, { $date }
mail-edition-line = Edition: { $edition }
mail-files-line = Files: { $files }
mail-license-key = License key: { $key }
mail-license-signed = Signed license (copy all of it): { $signed }
mail-purchase-keep = The link is yours alone; please do not share it. If it stops working or you need help, reply to this email or write to { $help }, and mention your order number.
mail-edition-subject = New edition: { $title }
mail-edition-intro = A new edition of { $title } is out ({ $edition }), and it is yours: you bought { $title } (order { $order }).
mail-edition-here = Download the new edition here ({ $downloads }):
mail-edition-button = Download the new edition
mail-edition-keep = Your earlier link keeps working for the edition you bought. The link is yours alone; please do not share it. Need help? Reply to this email or write to { $help }.
mail-links-subject = { $count ->
    [one] Your download link: { $title }
   *[other] Your { $count } download links
}
mail-links-intro = Here are the download links for your purchases.
mail-links-item = { $title } (edition { $edition }), { $left } of { $limit ->
    [one] { $limit } download
   *[other] { $limit } downloads
} left:
mail-links-footer = You asked for these links on our download page. If you did not, you can ignore this mail: the links only ever go to this address. Need help? Write to { $help }.
