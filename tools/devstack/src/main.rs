//! `make dev`: run the local shop until Ctrl-C.

use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(8080);
    let root = std::env::current_dir()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot listen on 127.0.0.1:{port} ({e}); set PORT to a free port")
        })?;
    // The example site on the next port: another origin, as a static host would be.
    let site_port: u16 = match std::env::var("SITE_PORT").ok() {
        Some(p) => p.parse()?,
        None => port.checked_add(1).unwrap_or(8081),
    };
    let site_listener = tokio::net::TcpListener::bind(("127.0.0.1", site_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on 127.0.0.1:{site_port} ({e}); set SITE_PORT to a free port"
            )
        })?;
    let opts = devstack::Options {
        endpoint: std::env::var("AWS_ENDPOINT_URL")?,
        site_dir: root.join("site"),
        site_listener,
        keys_dir: root.join(".local/keys"),
        retry_unit: Duration::from_secs(2),
        name: devstack::setup::NAME.into(),
        app: None,
        attempt_timeout: None,
        reconcile_every: Some(devstack::RECONCILE_EVERY),
    };
    let endpoint = opts.endpoint.clone();
    let (base, app) = devstack::start(listener, opts).await?;
    let stack_file = devstack::write_local_stack(&root, &base, &endpoint, &app.names)?;
    println!("\nKiosk is ready (local, no AWS account, no real money).\n");
    println!(
        "  Shop:     {}/  (the example site, on its own origin)",
        app.site_url
    );
    println!("  API:      {base}/  (checkout, buy pages, kiosk.js, downloads)");
    println!("  Mailbox:  {base}/mailbox");
    println!(
        "  Cards:    4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined (Stripe stand-in)"
    );
    println!(
        "\n  The author's CLI works on this shop too: cargo run -q -p kiosk-cli -- --local sales"
    );
    println!("\nPress Ctrl-C to stop everything.");
    tokio::signal::ctrl_c().await?;
    let _ = std::fs::remove_file(stack_file);
    Ok(())
}
