//! Checks a Kiosk license the way an author's program would, offline:
//!
//! ```text
//! cargo run -p kiosk-license --example verify -- PUBLIC_KEY LICENSE [REVOCATION_LIST] [EMAIL]
//! ```
//!
//! PUBLIC_KEY is what `kiosk license keygen` printed; LICENSE is the buyer's signed license
//! (`KL1.…`); REVOCATION_LIST, optional, is the body of the shop's `GET /license/revoked`
//! (`KR1.…`); EMAIL, optional, is the address the program's user says they bought with.
//! Exits 0 for a good license, 1 otherwise.

use kiosk_license::{PublicKey, verify_license, verify_revocations};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(key), Some(license)) = (args.first(), args.get(1)) else {
        eprintln!("usage: verify PUBLIC_KEY LICENSE [REVOCATION_LIST] [EMAIL]");
        std::process::exit(2);
    };
    let refuse = |why: String| -> ! {
        println!("refused: {why}");
        std::process::exit(1)
    };
    let key = PublicKey::parse(key).unwrap_or_else(|e| refuse(e.to_string()));
    let license = verify_license(license, &key).unwrap_or_else(|e| refuse(e.to_string()));
    if let Some(list) = args.get(2).filter(|l| !l.is_empty()) {
        let list = verify_revocations(list, &key).unwrap_or_else(|e| refuse(e.to_string()));
        if list.revokes(&license) {
            refuse(format!(
                "order {} was refunded (revocation list of {})",
                license.order, list.issued
            ));
        }
    }
    if let Some(email) = args.get(3) {
        if !license.is_for_email(email) {
            refuse("the license was issued to another address".to_owned());
        }
    }
    println!(
        "valid: {} edition {}, {} seat(s), order {}, issued {}",
        license.product, license.edition, license.seats, license.order, license.issued
    );
}
