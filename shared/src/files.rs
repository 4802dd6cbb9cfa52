//! Product files in S3: uploading an edition's file (checksummed by S3), presigned
//! download URLs.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use crate::product::FileRef;

#[derive(Debug, thiserror::Error)]
#[error("could not presign the download URL")]
pub struct PresignError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// An S3 client for `sdk`. Against a local emulator (`AWS_ENDPOINT_URL` set) buckets are
/// addressed by path, since `bucket.127.0.0.1` does not resolve; in AWS, virtual-hosted.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[derive(Debug, thiserror::Error)]
#[error("uploading to s3://{bucket}/{key} failed")]
pub struct UploadError {
    pub bucket: String,
    pub key: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[derive(Clone, Debug)]
pub struct Files {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// `attachment; filename="..."` with a safe ASCII fallback name and the exact UTF-8 name
/// in RFC 5987 `filename*`, so browsers save the file under its real name.
pub fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

impl Files {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Files {
            s3,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Put `bytes` at `to.key`, with `to`'s content type; S3 checks the SHA-256 the
    /// bytes are sent with, so a corrupted upload is refused, not stored.
    pub async fn upload(&self, bytes: &[u8], to: &FileRef) -> Result<(), UploadError> {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let checksum = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        self.put_object(&to.key, bytes.to_vec(), &to.content_type, Some(checksum))
            .await
    }

    /// Put `bytes` at `key` as `content_type` (a stamped copy).
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), UploadError> {
        self.put_object(key, bytes, content_type, None).await
    }

    async fn put_object(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        checksum_sha256: Option<String>,
    ) -> Result<(), UploadError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_checksum_sha256(checksum_sha256)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| self.failed(key, e))?;
        Ok(())
    }

    /// The error of a call about `key`.
    fn failed(&self, key: &str, e: impl std::error::Error + Send + Sync + 'static) -> UploadError {
        UploadError {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source: Box::new(e),
        }
    }

    /// Whether an object is at `key` (a HEAD: no body read).
    pub async fn exists(&self, key: &str) -> Result<bool, UploadError> {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(self.failed(key, e)),
        }
    }

    /// An object's bytes (a stamped product's PDF, checked or stamped).
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, UploadError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.failed(key, e))?;
        let body = out.body.collect().await.map_err(|e| self.failed(key, e))?;
        Ok(body.into_bytes().to_vec())
    }

    /// Take an upload back out (best effort: a stray object costs storage, nothing else).
    pub async fn remove(&self, key: &str) {
        let _ = self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
    }

    /// A GET URL for `file` valid for `expires_in`, telling the browser to save it under
    /// its name with its content type. Signing is local: no request is made.
    pub async fn presigned_get(
        &self,
        file: &FileRef,
        expires_in: Duration,
    ) -> Result<String, PresignError> {
        let cfg =
            PresigningConfig::expires_in(expires_in).map_err(|e| PresignError(Box::new(e)))?;
        let req = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&file.key)
            .response_content_disposition(content_disposition(&file.name))
            .response_content_type(&file.content_type)
            .presigned(cfg)
            .await
            .map_err(|e| PresignError(Box::new(e)))?;
        Ok(req.uri().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_names_the_file_safely() {
        assert_eq!(
            content_disposition("book.pdf"),
            "attachment; filename=\"book.pdf\"; filename*=UTF-8''book.pdf"
        );
        let d = content_disposition("小书 \"v2\".pdf");
        assert!(d.starts_with("attachment; filename=\"__ _v2_.pdf\""), "{d}");
        assert!(
            d.ends_with("filename*=UTF-8''%E5%B0%8F%E4%B9%A6%20%22v2%22.pdf"),
            "{d}"
        );
    }
}
