//! Creates the catalogue table in a local DynamoDB stand-in (moto) with the shape the app stack
//! gives it — key MysfitId, GoodEvilIndex and LawChaosIndex — and loads the seed catalogue, so the
//! services can run on a laptop. Used by scripts/bench-services. Idempotent.
//!
//!     cargo run -p mysfits-service --example local_table -- http://127.0.0.1:5000 us-east-1 my-table
//!
//! Refuses any endpoint that is not on the loopback interface: this never touches AWS.

use std::process::ExitCode;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use mysfits_service::catalogue::seed_catalogue;
use mysfits_service::dynamodb_client;
use mysfits_service::mysfit::{Alignment, ID};

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
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    let mut attributes = vec![ID];
    attributes.extend(Alignment::ALL.map(Alignment::attribute));
    for attribute in attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set"),
        );
    }
    request = request.key_schema(key(ID, KeyType::Hash).expect("name and type are set"));
    for alignment in Alignment::ALL {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(alignment.index())
                .key_schema(key(alignment.attribute(), KeyType::Hash).expect("set"))
                .key_schema(key(ID, KeyType::Range).expect("set"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("name, keys and projection are set"),
        );
    }
    match request.send().await {
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
