# Kiosk 面向买家的简体中文文本。消息 id 与 en.ftl 相同；占位符（{ $title }）由 Kiosk 填入，
# 商品名称不翻译。

language-name = 简体中文

## 格式

# 价格：货币符号和准确金额。中文网店标价写作 ¥9.00；美元写作 US$，以免与人民币混淆。
price-CNY = ¥{ $amount }
price-USD = US${ $amount }
price-EUR = €{ $amount }
price-GBP = £{ $amount }
price-JPY = { $amount } 日元
# 日期和时间以北京时间（UTC+8）显示，并注明时区。
time-zone-offset-minutes = 480
datetime = { $year }年{ $month }月{ $day }日 { $hour }:{ $minute }（北京时间）
month-1 = 一月
month-2 = 二月
month-3 = 三月
month-4 = 四月
month-5 = 五月
month-6 = 六月
month-7 = 七月
month-8 = 八月
month-9 = 九月
month-10 = 十月
month-11 = 十一月
month-12 = 十二月
downloads-count = { $count } 次下载
downloads-each = 每个文件 { $count } 次下载

## 各页面通用的错误

error-title = 出了点问题
error-try-again = 请稍后再试。
error-refresh = 请稍后刷新此页面。
not-found-title = 页面不存在
not-found-body = 这个地址没有内容。

## 商品购买页

product-not-found-title = 找不到该商品
product-not-found-body = 本店没有这件商品。
buy-view-only-title = 请使用“立即购买”按钮
buy-view-only-body = 此页面仅供浏览。
buy-about = 版本 { $edition } · { $kind } · { $downloads }。下载链接会显示在下一页，并发送到你的邮箱。
buy-file = 文件
buy-includes = 您将获得以下文件：
buy-stamped = PDF 会印上您的邮箱地址和订单号。
buy-unavailable = 此商品目前无法在这里购买。
buy-email-label = 你的邮箱
buy-email-help = 我们会把下载链接发到这个邮箱。
buy-pay-with = 支付方式
channel-wechat = 微信支付
channel-alipay = 支付宝
channel-card = 银行卡
buy-button = 立即购买 · { $price }
buy-other-language = 其他语言
buy-amount-label = 自定金额（至少 { $min }）
buy-amount-help = 建议金额：{ $suggested }。最多 { $max }。
buy-code-label = 优惠码（可选）
buy-code-applied = 优惠码 { $code }：{ $price }（原价 { $was }）。
buy-button-pwyw = 立即购买
buy-button-free = 把链接发到我的邮箱
buy-free-note = 免费：我们会把下载链接发到你的邮箱。
free-sent-title = 请查收邮件
free-sent-body = 我们已把《{ $title }》的下载链接发送到 { $email }。邮件可能需要一分钟左右才能到达，也请查看垃圾邮件文件夹。
free-confirm-title = 确认领取免费副本
free-confirm-body = 要把《{ $title }》的下载链接发送到 { $email } 吗？在你按下按钮之前，我们不会发送任何邮件。

## 下单的回应

checkout-check-title = 请检查你填写的信息
checkout-too-many-title = 下单次数过多
checkout-too-large-title = 请求过大
checkout-unreadable = 无法读取此请求。请返回后重试。
checkout-too-large = 请求超过 16 KiB。
checkout-product = 请选择一件商品。
checkout-email = 请输入有效的邮箱地址：我们会把下载链接发到那里。
checkout-device = 请选择电脑或手机。
checkout-channel = 请选择支付宝或银行卡。
checkout-channel-off = 本店不支持通过 { $channel } 付款。请选择其他支付方式。
checkout-channel-currency = 此商品以 { $currency } 标价，这种支付方式无法收取。请选择其他支付方式。
checkout-unknown-product = 本店没有这件商品。
checkout-amount-format = “{ $input }”不是有效金额。请至少支付 { $min }，格式如 { $example }。
checkout-amount-low = 请至少支付 { $min }。
checkout-amount-high = 最多只能支付 { $max }。
checkout-amount-fixed = 本商品价格固定为 { $price }。
checkout-amount-channel = { $channel }无法收取低于 { $smallest } 的金额。请提高金额或换一种支付方式。
checkout-code-used-up = 优惠码 { $code } 已被用完。
checkout-code-invalid = 此优惠码在这里无法使用。
checkout-code-free = 本商品免费，无需优惠码。
checkout-code-busy = 你所在的网络正在用此优惠码发起另一笔下单。请重试。
checkout-codes-too-many-title = 尝试的优惠码过多
checkout-codes-too-many = 你所在的网络尝试了过多无效的优惠码。请稍后再试。
checkout-code-pwyw = 自定金额的商品不能使用优惠码。
checkout-free-too-many = 你的网络或该邮箱领取免费副本的次数过多，请稍后再试。
checkout-free-cap = 本店目前发出的免费副本已达上限。请一小时后再试。
checkout-free-off = 本店暂时无法发送免费副本。
checkout-too-many = 过去一小时内，你所在的网络发起的下单次数过多。请稍后再试；没有产生任何扣款。
checkout-failed = 暂时无法开始付款。请稍后再试。
checkout-out-of-time = 未能及时开始付款。请稍后再试。
redirecting-title = 正在跳转
redirecting-heading = 正在前往付款页面…
redirecting-continue = 继续

## 付款之后

paid-title = 谢谢
paid-heading = 谢谢！你购买的商品已准备好。
paid-button = 前往下载
paid-sent = 我们也已把这个链接发送到 { $email }。请妥善保存：这个链接只属于你。
page-help = 对订单有疑问？请写信至 { $help }。
order-number = 订单号 { $order }
confirming-title = 正在确认付款
wechat-qr-title = 微信支付
wechat-qr-heading = 请用微信扫码支付
wechat-qr-body = 在手机上打开微信，点“扫一扫”，为 { $title } 支付 { $amount }。付款后此页面会自动转到你的下载。
wechat-qr-time-left = 还剩 { $minutes } 分钟完成支付。
wechat-qr-inside = 正在微信里浏览？微信内置浏览器无法支付此二维码：请在手机浏览器中打开此页面，用微信支付付款；或在另一块屏幕上扫码。
wechat-qr-expired-heading = 支付二维码已过期
wechat-qr-expired-body = { $title } 的支付时间已过，未扣任何款项。请回到商店重新购买。
confirming-heading = 正在确认付款…
confirming-body = 我们正在等待支付机构确认你为 { $title } 支付的款项。此页面会自动刷新；下载链接会显示在这里，并发送到你的邮箱。
confirming-note = 订单号 { $order }。如果你已取消付款，可以关闭此页面。
confirming-later-body = 暂时没有收到支付机构的答复。此页面会自动刷新；如果你已付款，下载链接会显示在这里，并发送到你的邮箱。
refunded-title = 订单已退款
refunded-heading = 此订单已退款
refunded-body = 你为 { $title } 支付的款项已退回，因此没有可下载的内容。如果有误，请回复购买邮件并注明订单号 { $order }。
return-invalid-title = 无法验证此页面
return-invalid-body = 这个返回链接不是支付机构发出的有效链接。如果你已付款，下载链接正在发往你的邮箱。
order-not-found-title = 找不到订单
order-not-found-body = 我们没有这笔订单的记录。如果你已付款，请回复你的收据邮件。

## 下载页

download-title = 下载 { $title }
download-edition = 版本 { $edition }
download-left = 共 { $limit } 次下载，还剩 { $left } 次。
download-per-file = 下载次数按文件计算：每个文件可下载 { $limit } 次。
download-used-up = 此文件的下载次数已用完。
download-stamped = 您的 PDF 每一页都印有您的邮箱地址和订单号。
download-preparing = 正在为您制作 { $file } 的专属副本。本页几秒后会自动刷新，然后请再次点击它的“下载”按钮。
download-until = 此链接在 { $date } 之前有效。
license-heading = 您的许可证
license-key = 许可证密钥（在程序要求时输入）：
license-signed = 签名许可证（供离线校验的程序使用，请完整复制）：
license-note = 密钥和许可证只属于您，请不要分享。
download-button = 下载
download-note = 每点击一次“下载”会用掉一次下载次数。打开的文件链接几分钟内有效。
resend-prompt = 链接丢了？输入你购买时使用的邮箱，我们会把所有仍然有效的链接发给你。
resend-button = 把链接发到我的邮箱
link-not-found-title = 找不到链接
link-not-found-heading = 这个下载链接不存在
link-not-found-body = 请确认你从邮件中复制了完整的链接。
gone-exhausted-heading = 下载次数已用完
gone-exhausted-body = 这次购买的 { $title } 的下载次数已全部用完。
gone-file-exhausted-heading = 此文件的下载次数已用完
gone-file-exhausted-body = 您已用完本次购买 { $title } 中此文件的全部下载次数。本次购买的其他文件仍在下载页上。
gone-expired-heading = 链接已过期
gone-expired-body = { $title } 的下载链接已过期。
gone-expired-on-body = { $title } 的下载链接已于 { $date } 过期。
gone-suspended-heading = 链接已暂停
gone-suspended-body = 你为 { $title } 的银行卡付款正被发卡机构调查争议，因此下载链接暂停使用，直到争议解决。
gone-revoked-heading = 此次购买已退款
gone-revoked-body = 你为 { $title } 支付的款项已退款，因此下载链接已失效。
gone-help = 需要重新下载，或者认为这是个错误？请写信到 { $help }，并注明订单号 { $order }。
resend-sent-title = 请查看你的邮箱
resend-sent-body = 如果这个邮箱在本店购买过商品，我们已把所有仍然有效的下载链接发到那里。邮件可能需要一分钟才能送达；也请查看垃圾邮件文件夹。
resend-sent-note = 每个邮箱每 10 分钟最多收到一次链接，每天最多 5 次。
resend-bad-email-title = 请检查邮箱地址
resend-bad-email-body = 请输入你购买时使用的邮箱地址，例如 name@example.com。
resend-no-email-title = 请输入你的邮箱
resend-no-email-body = 我们需要你购买时使用的邮箱地址。
resend-too-many-title = 请求过多
resend-too-many-body = 你所在的网络请求链接的次数过多。请一小时后再试。

## 邮件

mail-purchase-subject = 你的下载：{ $title }
mail-purchase-thanks = 感谢你购买 { $title }。
mail-purchase-here = 在这里下载（{ $downloads }）：
mail-purchase-button = 下载 { $title }
mail-link-allows = 此链接可下载 { $downloads }。如果按钮无法使用，请把这个地址复制到浏览器中：
mail-order = 订单号：{ $order }
mail-paid = 已付款：{ $amount }，{ $date }
mail-free = 免费领取，{ $date }
mail-edition-line = 版本：{ $edition }
mail-files-line = 文件：{ $files }
mail-license-key = 许可证密钥：{ $key }
mail-license-signed = 签名许可证（请完整复制）：{ $signed }
mail-purchase-keep = 这个链接只属于你，请不要分享。如果链接失效或需要帮助，请回复此邮件或写信到 { $help }，并注明你的订单号。
mail-edition-subject = 新版本：{ $title }
mail-edition-intro = { $title } 推出了新版本（{ $edition }），你可以免费获得：你购买过 { $title }（订单号 { $order }）。
mail-edition-here = 在这里下载新版本（{ $downloads }）：
mail-edition-button = 下载新版本
mail-edition-keep = 你之前的链接仍可下载你购买的版本。这个链接只属于你，请不要分享。需要帮助？请回复此邮件或写信到 { $help }。
mail-links-subject = { $count ->
    [1] 你的下载链接：{ $title }
   *[other] 你的 { $count } 个下载链接
}
mail-links-intro = 以下是你购买的商品的下载链接。
mail-links-item = { $title }（版本 { $edition }），共 { $limit } 次下载，还剩 { $left } 次：
mail-links-footer = 你在我们的下载页面请求了这些链接。如果不是你本人操作，可以忽略此邮件：链接只会发到这个邮箱。需要帮助？请写信到 { $help }。
