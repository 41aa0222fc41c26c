//! The ECR control-plane side of a push: registry credentials from GetAuthorizationToken and the
//! repositories' URIs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::aws_error;
use crate::error::{Error, Result};
pub use crate::image::push::RegistryCredentials;

/// The registry credentials ECR hands out for this region (valid for 12 hours on AWS).
/// The token is base64 of `user:password`; the user is `AWS` on AWS.
pub async fn registry_credentials(
    ecr: &aws_sdk_ecr::Client,
    region: &str,
) -> Result<RegistryCredentials> {
    let response = ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(|error| aws_error("ecr:GetAuthorizationToken", region, &error))?;
    let token = response
        .authorization_data()
        .first()
        .and_then(|data| data.authorization_token())
        .ok_or_else(|| bad_token(region, "the answer holds no authorization token"))?;
    let decoded = STANDARD
        .decode(token.trim())
        .map_err(|error| bad_token(region, &format!("the token is not base64 ({error})")))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| bad_token(region, "the decoded token is not text"))?;
    let (username, password) = decoded
        .split_once(':')
        .filter(|(username, password)| !username.is_empty() && !password.is_empty())
        .ok_or_else(|| bad_token(region, "the decoded token is not `user:password`"))?;
    Ok(RegistryCredentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

fn bad_token(region: &str, why: &str) -> Error {
    Error::Aws {
        operation: "ecr:GetAuthorizationToken".into(),
        region: region.into(),
        message: format!("unusable registry credentials: {why}"),
        fix: "check the ECR endpoint (--endpoint-url, regions.<region>.endpoint_url) answers like ECR; run with -v to see the call".into(),
    }
}

/// The URI (`<registry host>/<name>`) of an existing repository.
pub async fn repository_uri(ecr: &aws_sdk_ecr::Client, region: &str, name: &str) -> Result<String> {
    let response = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(service_error) if service_error.is_repository_not_found_exception() => Error::config(
                format!("ECR repository {name} does not exist in {region}"),
                "run `mysfits deploy` once: it creates the repositories (registry stack) before pushing",
            ),
            _ => aws_error("ecr:DescribeRepositories", region, &error),
        })?;
    response
        .repositories()
        .iter()
        .find(|repository| repository.repository_name() == Some(name))
        .and_then(|repository| repository.repository_uri())
        .map(str::to_string)
        .ok_or_else(|| Error::Aws {
            operation: "ecr:DescribeRepositories".into(),
            region: region.into(),
            message: format!("the answer has no URI for repository {name}"),
            fix: "check the ECR endpoint answers like ECR; run with -v to see the call".into(),
        })
}

/// True when the text is a repository URI rather than a bare repository name: like Docker, a
/// first path component with a dot or a colon is a registry host.
pub fn is_repository_uri(text: &str) -> bool {
    text.split_once('/')
        .is_some_and(|(host, _)| host.contains('.') || host.contains(':'))
}
