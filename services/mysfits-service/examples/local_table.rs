//! Creates the catalogue table in a local DynamoDB stand-in (moto) with the shape the app stack
//! gives it — key MysfitId, GoodEvilIndex and LawChaosIndex — and loads the seed catalogue, so the
//! services can run on a laptop. Used by scripts/bench-services. Idempotent.
//!
//!     cargo run -p mysfits-service --example local_table -- http://127.0.0.1:5000 us-east-1 my-table
//!
//! Refuses any endpoint that is not on the loopback interface: this never touches AWS.

use std::process::ExitCode;

use aws_smithy_types::error::display::DisplayErrorContext;
use mysfits_service::catalogue::seed_catalogue;
use mysfits_service::dynamodb_client;
use mysfits_service::table::create_catalogue_table;

#[tokio::main]
async fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, region, table] = arguments.as_slice() else {
        eprintln!(
            "usage: local_table ENDPOINT_URL REGION TABLE (e.g. http://127.0.0.1:5000 us-east-1 mysfits-mysfits)"
        );
        return ExitCode::from(2);
    };
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) {
        eprintln!(
            "local_table: {endpoint} is not a loopback endpoint; this example only sets up local stand-ins"
        );
        return ExitCode::from(2);
    }
    let client = dynamodb_client(region, Some(endpoint)).await;
    match create_catalogue_table(&client, table).await {
        Ok(_) => eprintln!("created table {table}"),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|error| error.is_resource_in_use_exception()) =>
        {
            eprintln!("table {table} already exists");
        }
        Err(error) => {
            eprintln!(
                "local_table: could not create table {table}: {}",
                DisplayErrorContext(&error)
            );
            return ExitCode::FAILURE;
        }
    }
    match seed_catalogue(&client, table).await {
        Ok(counts) => {
            println!(
                "seeded {table}: {} inserted, {} already present",
                counts.inserted, counts.already_present
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("local_table: {error}");
            ExitCode::FAILURE
        }
    }
}
