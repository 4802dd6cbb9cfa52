//! A fresh emulator table per test (created from template.yaml), and sample products and
//! orders.

use anyhow::Result;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use kiosk::order::{ChannelKind, Source};
use kiosk::product::FileRef;
use kiosk::store::Store;
use kiosk::{Currency, Email, Money, Order, OrderId, Product, ProductId};
use time::{Duration, OffsetDateTime};

/// A store over a brand-new table, so tests never see each other's data.
pub struct TestTable {
    pub client: Client,
    pub store: Store,
    pub name: String,
}

impl TestTable {
    /// A store over the existing table `name` (another fixture's).
    pub async fn named(name: &str) -> Result<Self> {
        let client = Client::new(&kiosk_localaws::emulator_config().await?);
        Ok(TestTable {
            store: Store::new(client.clone(), name),
            client,
            name: name.to_owned(),
        })
    }

    pub async fn new() -> Result<Self> {
        let config = kiosk_localaws::emulator_config().await?;
        let client = Client::new(&config);
        let name = format!(
            "kiosk-test-{}",
            OrderId::generate(kiosk::clock::now_exact())?
                .as_str()
                .to_lowercase()
        );
        kiosk_localaws::create_table(&client, &name).await?;
        Ok(TestTable {
            store: Store::new(client.clone(), &name),
            client,
            name,
        })
    }

    /// Every item of an entity kind (`order`, `grant`, `product`), by full scan: test-only.
    pub async fn scan_entity(
        &self,
        entity: &str,
    ) -> Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
        let items = self
            .client
            .scan()
            .table_name(&self.name)
            .filter_expression("entity = :e")
            .expression_attribute_values(":e", AttributeValue::S(entity.into()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
        Ok(items)
    }
}

/// Whole seconds, like everything the store keeps.
pub fn now() -> OffsetDateTime {
    let t = kiosk::clock::now_exact();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn cny(s: &str) -> Money {
    Money::parse_decimal(s, Currency::Cny).expect("test amount")
}

pub fn product(id: &str, price: &str) -> Product {
    Product::new(
        ProductId::parse(id).expect("test product id"),
        &format!("The {id} book"),
        // "9.00" is yuan; "500 JPY" names its currency.
        match price.contains(' ') {
            true => kiosk::Money::parse_price(price).expect("test price"),
            false => cny(price),
        },
        kiosk::product::Edition::parse("v1").expect("valid product"),
        kiosk::product::FileSet::one(FileRef {
            key: format!("products/{id}/v1/{id}.pdf"),
            name: format!("{id}.pdf"),
            content_type: "application/pdf".into(),
            sha256: None,
            size: None,
        }),
        5,
    )
    .expect("valid product")
}

pub fn pending_order(product: &Product, email: &str, created_at: OffsetDateTime) -> Order {
    Order::new_pending(
        OrderId::generate(created_at).expect("order id"),
        product,
        Email::parse(email).expect("test email"),
        ChannelKind::Alipay,
        Source {
            utm_source: Some("newsletter".into()),
            ..Source::default()
        },
        created_at,
        Duration::minutes(30),
    )
}
