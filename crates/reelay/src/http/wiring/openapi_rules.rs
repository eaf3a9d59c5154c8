//! The rules of [`crate::rules`] placed on the parameters and fields of the OpenAPI document
//! that they govern — the same constants the validators check — so the document states every
//! constraint the handlers enforce. One table, [`RULES`]: a parameter's rule holds wherever a
//! parameter of that name appears; a field's rule is placed on one schema's property. A rule
//! that finds no place is a test failure (a renamed field must not drop its rule).
//!
//! Also here: binary request bodies written as what they are (bytes, not a JSON array of
//! integers), and the one rule JSON Schema states only with a condition — a signed folder's
//! path ends in `/`, an object's does not.

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{
    ArrayItems, KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Components, OpenApi, RefOr};

use crate::http::common::multipart::Form;
use crate::http::common::routes;
use crate::http::compat::lyve::LYVE_FORM;
use crate::http::native::api::objects::NATIVE_FORM;
use crate::rules::{self, Range, Text};

/// Where a rule holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At {
    /// Every path parameter of this name, in any operation.
    Param(&'static str),
    /// Every query parameter of this name, in any operation.
    Query(&'static str),
    /// Every header parameter of this name, in any operation.
    Header(&'static str),
    /// The parameter of this name (path, query or header) of one operation, by its id: where
    /// one operation's rule differs from the name's everywhere else (placed after it).
    Of(&'static str, &'static str),
    /// A property of a component schema.
    Field(&'static str, &'static str),
    /// Each item of an array property of a component schema.
    Items(&'static str, &'static str),
}

/// What holds there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    Text(Text),
    Range(Range),
    OneOf(&'static [&'static str]),
    /// At most this many characters.
    Longest(usize),
    /// The parameter must be there.
    Required,
}

use crate::relay::protocol::{
    DISCONTINUITY_HEADER, DURATION_HEADER, INDEPENDENT_HEADER, LIVE_HEADER, MAP_HEADER, PDT_HEADER,
    RENDITION_HEADER,
};
use At::{Field, Header, Items, Of, Param, Query};
use Rule::{Longest, OneOf, Range as R, Required, Text as T};

/// Every rule the handlers enforce on a value a request carries, and where it holds.
pub(crate) const RULES: [(At, Rule); 39] = [
    (Param("bucket"), T(rules::BUCKET_NAME)),
    (Query("bucket"), T(rules::BUCKET_NAME)),
    (Query("bucket_name"), T(rules::BUCKET_NAME)),
    (Param("key"), T(rules::OBJECT_KEY)),
    (Query("v"), T(rules::OBJECT_KEY)),
    (Query("download"), Longest(rules::DOWNLOAD_NAME_LEN)),
    (Param("source"), T(rules::NAME_OR_ID)),
    (Param("edge"), T(rules::NAME_OR_ID)),
    (Param("file"), T(rules::PLAIN_FILE)),
    (Query("limit"), R(rules::LIST_LIMIT)),
    (Query("new_state"), OneOf(&rules::ON_OFF)),
    (Query("new_state"), Required),
    (Field("CreateBucket", "name"), T(rules::BUCKET_NAME)),
    (Field("CreateSource", "name"), T(rules::SOURCE_NAME)),
    (
        Field("CreateSource", "target_duration"),
        R(rules::TARGET_DURATION),
    ),
    (Field("CreateSource", "edge"), T(rules::NAME_OR_ID)),
    (Field("PatchSource", "name"), T(rules::SOURCE_NAME)),
    (
        Field("PatchSource", "target_duration"),
        R(rules::TARGET_DURATION),
    ),
    (Field("CreateToken", "name"), T(rules::TOKEN_NAME)),
    (Field("CreateToken", "role"), OneOf(&rules::ROLES)),
    (Field("CreateEdge", "name"), T(rules::SOURCE_NAME)),
    (Items("CreateEdge", "sources"), T(rules::NAME_OR_ID)),
    (Items("EdgeScope", "sources"), T(rules::NAME_OR_ID)),
    (Field("SignRequest", "path"), T(rules::SIGNED_PATH)),
    (
        Field("SignRequest", "expires_in"),
        R(rules::SIGN_EXPIRES_IN),
    ),
    (Field("LmNewSource", "name"), T(rules::SOURCE_NAME)),
    (
        Field("LmNewSource", "segment_len"),
        R(rules::TARGET_DURATION),
    ),
    // The edge protocol's names and headers (`relay/protocol.rs`).
    (Header(RENDITION_HEADER), T(rules::RENDITION)),
    (Header(DISCONTINUITY_HEADER), OneOf(&rules::FLAG)),
    (Header(LIVE_HEADER), OneOf(&rules::FLAG)),
    (Header(INDEPENDENT_HEADER), OneOf(&rules::FLAG)),
    (Header(MAP_HEADER), T(rules::INIT_FILE)),
    (Of("put_segment", "file"), T(rules::SEGMENT_FILE)),
    (
        Of("put_segment", DURATION_HEADER),
        R(rules::SEGMENT_DURATION_MS),
    ),
    (Of("put_segment", PDT_HEADER), R(rules::PRODUCED_MS)),
    (Of("put_init", "file"), T(rules::INIT_FILE)),
    (Of("put_part", "file"), T(rules::PART_FILE)),
    (Of("put_part", DURATION_HEADER), R(rules::PART_DURATION_MS)),
    (Of("delete_part", "file"), T(rules::SEGMENT_NUMBER)),
];

/// The forms the upload routes read (the declarations their handlers read them by).
const FORMS: [(&str, Form); 2] = [
    (routes::OBJECTS, NATIVE_FORM),
    (routes::LYVE_FILES_UPLOAD, LYVE_FORM),
];

/// Most items of the array properties that have a bound.
const MAX_ITEMS: [(&str, &str, usize); 2] = [
    ("CreateEdge", "sources", rules::EDGE_SCOPE_ITEMS),
    ("EdgeScope", "sources", rules::EDGE_SCOPE_ITEMS),
];

/// Places every rule, and names the `[[s3]]` profiles a bucket may be created on; answers the
/// rules that found no place.
pub(crate) fn place(openapi: &mut OpenApi, profiles: &[String]) -> Vec<(At, Rule)> {
    let mut unplaced = Vec::new();
    for (at, rule) in RULES {
        let placed = match at {
            Param(name) => on_params(openapi, None, Some(ParameterIn::Path), name, rule),
            Query(name) => on_params(openapi, None, Some(ParameterIn::Query), name, rule),
            Header(name) => on_params(openapi, None, Some(ParameterIn::Header), name, rule),
            Of(operation, name) => on_params(openapi, Some(operation), None, name, rule),
            Field(schema, field) => property(openapi.components.as_mut(), schema, field)
                .map(|object| apply(object, rule))
                .is_some(),
            Items(schema, field) => items(openapi.components.as_mut(), schema, field)
                .map(|object| apply(object, rule))
                .is_some(),
        };
        if !placed {
            unplaced.push((at, rule));
        }
    }
    bound_arrays(openapi.components.as_mut());
    absent_not_null(openapi);
    binary_bodies(openapi);
    forms(openapi);
    start_times(openapi.components.as_mut());
    if let Some(s3) = property(openapi.components.as_mut(), "CreateBucket", "s3") {
        let names = profiles.iter().map(|p| Value::from(p.as_str()));
        s3.enum_values = Some(std::iter::once(Value::Null).chain(names).collect());
    }
    signed_folder_paths(openapi.components.as_mut());
    unplaced
}

/// Puts `rule` on every parameter named `name` (in `place`, of `operation`, when given);
/// whether there was one.
fn on_params(
    openapi: &mut OpenApi,
    operation: Option<&str>,
    place: Option<ParameterIn>,
    name: &str,
    rule: Rule,
) -> bool {
    let mut found = false;
    for op in operations_mut(openapi) {
        if operation.is_some_and(|id| op.operation_id.as_deref() != Some(id)) {
            continue;
        }
        for param in op.parameters.iter_mut().flatten() {
            let RefOr::T(param) = param else {
                continue;
            };
            if param.name != name || place.as_ref().is_some_and(|p| param.parameter_in != *p) {
                continue;
            }
            if let Rule::Required = rule {
                param.required = utoipa::openapi::Required::True;
                found = true;
                continue;
            }
            if let Some(RefOr::T(Schema::Object(object))) = param.schema.as_mut() {
                apply(object, rule);
                found = true;
            }
        }
    }
    found
}

fn schema_object<'a>(
    components: Option<&'a mut Components>,
    schema: &str,
) -> Option<&'a mut Object> {
    match components?.schemas.get_mut(schema)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

fn property<'a>(
    components: Option<&'a mut Components>,
    schema: &str,
    field: &str,
) -> Option<&'a mut Object> {
    match schema_object(components, schema)?
        .properties
        .get_mut(field)?
    {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

fn items<'a>(
    components: Option<&'a mut Components>,
    schema: &str,
    field: &str,
) -> Option<&'a mut Object> {
    let array = match schema_object(components, schema)?
        .properties
        .get_mut(field)?
    {
        RefOr::T(Schema::Array(array)) => array,
        _ => return None,
    };
    match &mut array.items {
        ArrayItems::RefOrSchema(item) => match item.as_mut() {
            RefOr::T(Schema::Object(object)) => Some(object),
            _ => None,
        },
        ArrayItems::False => None,
    }
}

fn apply(object: &mut Object, rule: Rule) {
    match rule {
        Rule::Text(text) => {
            object.min_length = Some(text.min_len);
            object.max_length = Some(text.max_len);
            object.pattern = Some(text.pattern.to_owned());
        }
        Rule::Range(range) => {
            object.minimum = isize::try_from(range.min).ok().map(utoipa::Number::Int);
            object.maximum = isize::try_from(range.max).ok().map(utoipa::Number::Int);
        }
        Rule::OneOf(values) => {
            object.enum_values = Some(values.iter().map(|v| Value::from(*v)).collect());
        }
        Rule::Longest(most) => object.max_length = Some(most),
        Rule::Required => {}
    }
}

fn bound_arrays(mut components: Option<&mut Components>) {
    for (schema, field, most) in MAX_ITEMS {
        let Some(object) = schema_object(components.as_deref_mut(), schema) else {
            continue;
        };
        if let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut(field) {
            array.max_items = Some(most);
        }
    }
}

/// Every operation of the document.
fn operations_mut(openapi: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        let PathItem {
            get,
            put,
            post,
            delete,
            patch,
            head,
            ..
        } = item;
        [get, put, post, delete, patch, head].into_iter().flatten()
    })
}

/// An optional parameter is absent or has a value: a path, query or header has no `null`
/// (utoipa writes an `Option`'s type as `[T, "null"]`, and a client would send the text
/// `null`).
fn absent_not_null(openapi: &mut OpenApi) {
    for op in operations_mut(openapi) {
        for param in op.parameters.iter_mut().flatten() {
            let RefOr::T(param) = param else {
                continue;
            };
            if let Some(RefOr::T(Schema::Object(object))) = param.schema.as_mut()
                && let SchemaType::Array(types) = &object.schema_type
            {
                let types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                object.schema_type = match types.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::Array(types),
                };
            }
        }
    }
}

/// `application/octet-stream` bodies are bytes: `{type: string, format: binary}`.
fn binary_bodies(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for op in [&mut item.put, &mut item.post].into_iter().flatten() {
            let Some(RefOr::T(body)) = op.request_body.as_mut() else {
                continue;
            };
            if let Some(RefOr::T(content)) = body.content.get_mut("application/octet-stream") {
                content.schema = Some(RefOr::T(Schema::Object(bytes())));
            }
        }
    }
}

fn bytes() -> Object {
    let mut bytes = Object::with_type(Type::String);
    bytes.format = Some(SchemaFormat::KnownFormat(KnownFormat::Binary));
    bytes
}

fn text(rule: Text) -> RefOr<Schema> {
    let mut object = Object::with_type(Type::String);
    apply(&mut object, Rule::Text(rule));
    RefOr::T(Schema::Object(object))
}

/// Each upload form as its handler reads it: the file (required), the bucket field where the
/// form names the bucket (required), the key fields (the file's own name otherwise).
fn forms(openapi: &mut OpenApi) {
    for (path, form) in FORMS {
        let path = routes::openapi_path(path);
        let Some(post) = openapi
            .paths
            .paths
            .get_mut(&path)
            .and_then(|i| i.post.as_mut())
        else {
            continue;
        };
        let Some(RefOr::T(body)) = post.request_body.as_mut() else {
            continue;
        };
        let Some(RefOr::T(content)) = body.content.get_mut("multipart/form-data") else {
            continue;
        };
        let mut schema = Object::with_type(Type::Object);
        let file = RefOr::T(Schema::Object(bytes()));
        schema.properties.insert(form.file_field.to_owned(), file);
        schema.required.push(form.file_field.to_owned());
        if let Some(bucket) = form.bucket_field {
            schema
                .properties
                .insert(bucket.to_owned(), text(rules::BUCKET_NAME));
            schema.required.push(bucket.to_owned());
        }
        for key in form.key_fields {
            schema
                .properties
                .insert((*key).to_owned(), text(rules::OBJECT_KEY));
        }
        // A field's name travels in a quoted header parameter: no quote, backslash or control.
        let mut names = Object::with_type(Type::String);
        names.pattern = Some(r#"^[^"\\\u0000-\u001f\u007f]*$"#.to_owned());
        schema.property_names = Some(Box::new(Schema::Object(names)));
        content.schema = Some(RefOr::T(Schema::Object(schema)));
        body.required = Some(utoipa::openapi::Required::True);
    }
}

/// A recording's `start` given as text is an RFC 3339 date-time.
fn start_times(components: Option<&mut Components>) {
    let Some(RefOr::T(Schema::OneOf(one_of))) =
        components.and_then(|c| c.schemas.get_mut("StartAt"))
    else {
        return;
    };
    for item in &mut one_of.items {
        if let RefOr::T(Schema::Object(object)) = item
            && object.schema_type == Type::String.into()
        {
            object.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
        }
    }
}

/// `prefix: true` signs a folder, whose path ends in `/`; otherwise the path names an object
/// and does not.
fn signed_folder_paths(components: Option<&mut Components>) {
    let Some(object) = schema_object(components, "SignRequest") else {
        return;
    };
    let condition = [
        (
            "if",
            json!({"properties": {"prefix": {"const": true}}, "required": ["prefix"]}),
        ),
        ("then", json!({"properties": {"path": {"pattern": "/$"}}})),
        (
            "else",
            json!({"properties": {"path": {"pattern": "[^/]$"}}}),
        ),
    ];
    object
        .extensions
        .get_or_insert_with(Default::default)
        .extend(condition.map(|(k, v)| (k.to_owned(), v)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_finds_its_place_in_the_document() {
        let (_, mut document) = crate::http::wiring::router::declared();
        crate::http::wiring::openapi::unruled(&mut document);
        let unplaced = place(&mut document, &[]);
        assert!(unplaced.is_empty(), "rules with no place: {unplaced:?}");
    }
}
