//! `GET /download/{token}` (landing page), `POST /download/{token}` (spend one download,
//! redirect to S3) and `POST /download/resend` ("email me my links"). The Lambda binary
//! and the devstack both call [`handler::handle`].

pub mod handler;
