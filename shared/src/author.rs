//! The author's handle on a shop: what the `kiosk` command line may do, built by one
//! wiring function ([`Author::new`]) from one SDK configuration.
//!
//! The CLI names the parts of the shop it knows (a `--stack`'s outputs, `--local`, flags);
//! a part nothing named is an error only when a workflow needs it, naming the part
//! ([`Missing`]), so `kiosk orders` works with a table name alone. Every workflow lives
//! here or below ([`crate::catalog`], [`crate::mailout`], [`crate::refund`]); the CLI only
//! parses arguments, makes one call and prints.

use time::OffsetDateTime;

use crate::delivery::{Delivery, MailRun};
use crate::email::{Email, Sender};
use crate::files::Files;
use crate::ids::{OrderId, ProductId};
use crate::mail::Mailer;
use crate::order::{Order, OrderStatus};
use crate::product::Product;
use crate::store::{AddressLinks, Store, StoreError};

/// A part of the shop a workflow needed and the author did not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("no files bucket given")]
    Bucket,
    #[error("no sender address given")]
    Sender,
    #[error("no API URL given")]
    ApiUrl,
}

/// The parts of a shop the author named. Only the table is always needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorSettings {
    pub table: String,
    pub bucket: Option<String>,
    /// The From address, exactly as the stack's `SenderEmail`.
    pub sender: Option<Sender>,
    /// Base URL of the API, no trailing slash: download links hang off it.
    pub public_base_url: Option<String>,
    /// The stack's `SupportEmail`: the Reply-To of the mails the author sends, and the
    /// help they name (else the sender).
    pub support: Option<Sender>,
    /// The stack's SES configuration set, so bounces and complaints of the author's
    /// mails are recorded like the functions' ([`crate::mail_events`]).
    pub mail_configuration_set: Option<String>,
    /// The stack's `DefaultLanguage`: the language of mails about orders that recorded
    /// none ([`crate::i18n::Lang::of_purchase`]).
    pub default_lang: crate::i18n::Lang,
}

pub struct Author {
    pub(crate) store: Store,
    ses: aws_sdk_ses::Client,
    s3: aws_sdk_s3::Client,
    settings: AuthorSettings,
}

impl Author {
    /// The one place the CLI's clients are made: the store, SES and S3, from `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig, settings: AuthorSettings) -> Author {
        Author {
            store: crate::startup::open_store(sdk, &settings.table),
            ses: crate::mail::ses_client(sdk),
            s3: crate::files::s3_client(sdk),
            settings,
        }
    }

    /// The shop's default language (see [`AuthorSettings::default_lang`]).
    pub fn default_lang(&self) -> crate::i18n::Lang {
        self.settings.default_lang
    }

    // What `kiosk` reads and changes beside the workflows of its own modules: one call
    // each, named for what the author does (the store itself stays inside the handle).

    /// A product as stored.
    pub async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        self.store.get_product(id).await
    }

    /// Every product (`kiosk product list`).
    pub async fn products(&self) -> Result<Vec<Product>, StoreError> {
        self.store.all_products().await
    }

    /// Orders created since `since` (all, without), with what the read cost.
    pub async fn orders_created_since(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<(Vec<Order>, crate::store::Reads), StoreError> {
        self.store.orders_created_since(since).await
    }

    /// Orders that may have been paid since `since` (`kiosk sales`).
    pub async fn orders_paid_since(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<(Vec<Order>, crate::store::Reads), StoreError> {
        self.store.orders_paid_since(since).await
    }

    /// Each of `orders` with its address's bounce or complaint, if SES reported one.
    pub async fn with_mail_blocks(&self, orders: &mut [Order]) -> Result<(), StoreError> {
        self.store.with_address_blocks(orders).await
    }

    /// The visitor funnel of `from..=until` (`kiosk funnel`, `kiosk report`).
    pub async fn funnel(
        &self,
        from: time::Date,
        until: time::Date,
        product: Option<&ProductId>,
    ) -> Result<crate::funnel::Funnel, StoreError> {
        crate::funnel::report(&self.store, from, until, product).await
    }

    /// Every discount code.
    pub async fn codes(&self) -> Result<Vec<crate::pricing::Code>, StoreError> {
        self.store.codes().await
    }

    /// Stop a code working; `false` if there is no such code.
    pub async fn disable_code(&self, name: &crate::pricing::CodeName) -> Result<bool, StoreError> {
        self.store.disable_code(name).await
    }

    /// Every registered A/B test.
    pub async fn tests(&self) -> Result<Vec<crate::abtest::AbTest>, StoreError> {
        self.store.tests().await
    }

    /// Register a test; `false` if the name is taken.
    pub async fn add_test(&self, test: &crate::abtest::AbTest) -> Result<bool, StoreError> {
        self.store.create_test(test).await
    }

    /// Stop a running test; `false` if there is no such running test.
    pub async fn stop_test(
        &self,
        name: &crate::visit::Name,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.store.stop_test(name, now).await
    }

    pub fn settings(&self) -> &AuthorSettings {
        &self.settings
    }

    pub(crate) fn ses(&self) -> &aws_sdk_ses::Client {
        &self.ses
    }

    pub(crate) fn files(&self) -> Result<Files, Missing> {
        let bucket = self.settings.bucket.as_deref().ok_or(Missing::Bucket)?;
        Ok(Files::new(self.s3.clone(), bucket))
    }

    pub(crate) fn mailer(&self) -> Result<Mailer, Missing> {
        let sender = self.settings.sender.clone().ok_or(Missing::Sender)?;
        Ok(Mailer::new(self.ses.clone(), sender)
            .with_reply_to(self.settings.support.clone())
            .with_configuration_set(self.settings.mail_configuration_set.clone()))
    }

    pub(crate) fn public_base_url(&self) -> Result<&str, Missing> {
        self.settings
            .public_base_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .ok_or(Missing::ApiUrl)
    }

    /// Send every purchase mail that is due (what reconcile does first), until
    /// `deadline`.
    pub async fn retry_due_mails(
        &self,
        now: OffsetDateTime,
        deadline: crate::deadline::Deadline,
    ) -> Result<MailRun, AuthorError> {
        let mailer = self.mailer()?;
        let store = crate::store::views::MailStore::of(self.store.clone());
        let delivery = Delivery::new(
            &store,
            &mailer,
            self.public_base_url()?,
            self.settings.default_lang,
        );
        Ok(delivery.retry_due_mails(now, deadline).await?)
    }

    /// Order `id`, which must be paid (only a paid order has links to send).
    async fn paid_order(&self, id: OrderId) -> Result<crate::order::Order, AuthorError> {
        let order = self
            .store
            .get_order(&id)
            .await?
            .ok_or(AuthorError::UnknownOrder(id))?;
        if order.status() != OrderStatus::Paid {
            return Err(AuthorError::NotPaid {
                status: order.status(),
                order: order.id,
            });
        }
        Ok(order)
    }

    /// Mail a buyer every link they can still use, now: by order (which must be paid)
    /// or by address. Unlike the download page's "email me my links", no rate limit:
    /// the author asked. Returns the address and how many links went out; 0: it has no
    /// usable link, and nothing was sent.
    pub async fn resend_links(
        &self,
        to: ResendTo,
        now: OffsetDateTime,
    ) -> Result<(Email, usize), AuthorError> {
        let mut own = None;
        let email = match to {
            ResendTo::Address(e) => e,
            ResendTo::CorrectedOrder(id, to) => {
                let order = self.paid_order(id).await?;
                own = Some(order.all_grants());
                // The author vouches for the address: SES's report about it is forgotten.
                self.store.clear_address_block(&to).await?;
                if order.email != to {
                    if !self.store.change_order_email(&order, &to).await? {
                        return Err(AuthorError::Changed(order.id));
                    }
                } else {
                    // The author vouches for the address as it is (the mailbox was
                    // full, or is fixed now): every order of it may be mailed again.
                    for o in self.store.orders_of(&to).await? {
                        if o.mail_block.is_some() {
                            self.store.clear_mail_block(&o.id, &to).await?;
                        }
                    }
                }
                to
            }
            ResendTo::Order(id) => self.paid_order(id).await?.email,
        };
        let grants = match own {
            // A corrected order: its own links, read by key (strongly consistent), not
            // through the address's index, which may not show the correction yet.
            Some(tokens) => {
                let mut grants = Vec::new();
                for token in &tokens {
                    if let Some(g) = self.store.get_grant(token).await?
                        && g.usable(now).is_ok()
                    {
                        grants.push(g);
                    }
                }
                if grants.is_empty() {
                    return Ok((email, 0));
                }
                grants
            }
            None => match self.store.usable_grants_for(&email, now).await? {
                AddressLinks::Blocked(block) => {
                    return Err(AuthorError::Blocked { email, block });
                }
                AddressLinks::Usable(g) if g.is_empty() => return Ok((email, 0)),
                AddressLinks::Usable(g) => g,
            },
        };
        // The buyer's language, as their newest purchase recorded it.
        let lang = grants
            .iter()
            .max_by_key(|g| g.created_at)
            .and_then(|g| g.lang);
        let lang = crate::i18n::Lang::of_purchase(lang, self.settings.default_lang);
        let n = crate::downloads::mail_links(
            &self.mailer()?,
            self.public_base_url()?,
            &email,
            grants,
            lang,
        )
        .await
        .map_err(AuthorError::Mail)?;
        Ok((email, n))
    }
}

/// Whose links `kiosk resend` mails.
#[derive(Debug, Clone)]
pub enum ResendTo {
    Order(OrderId),
    Address(Email),
    /// The order's address was mistyped: correct it to this one (the old one kept in the
    /// order's `previous_emails`), then mail the links there.
    CorrectedOrder(OrderId, Email),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    #[error(transparent)]
    Missing(#[from] Missing),
    #[error("no order {0}")]
    UnknownOrder(OrderId),
    #[error("order {0} changed while its address was corrected; run the command again")]
    Changed(OrderId),
    #[error("order {order} is {}, so it has no links to send", status.as_str().to_ascii_lowercase())]
    NotPaid { order: OrderId, status: OrderStatus },
    #[error(
        "mail to {email} {} on {} ({}); nothing was sent. Correct the address with \
         `kiosk resend ORDER --to ADDRESS`, or give the same address with --to to try it again",
        block.kind.what(),
        block.at.date(),
        block.detail
    )]
    Blocked {
        email: Email,
        block: crate::order::MailBlock,
    },
    #[error("SES did not send the mail: {}", .0.reason())]
    Mail(#[source] crate::mail::MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
