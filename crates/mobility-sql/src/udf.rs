//! The shape shared by the project's scalar functions: fixed argument kinds coerced by the
//! planner (so a kernel always sees Float64, Binary or Utf8 arrays), documentation, and a
//! kernel over arrays. Nothing here depends on Arrow field metadata, so a plan that travels to
//! a remote executor keeps working.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Float64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arg {
    /// A number, as DOUBLE.
    Num,
    /// A geometry as WKB, as BINARY.
    Geom,
    /// Text, as VARCHAR.
    Text,
    /// A date (or a timestamp, cast), as DATE.
    Date,
}

impl Arg {
    fn target(self) -> DataType {
        match self {
            Arg::Num => DataType::Float64,
            Arg::Geom => DataType::Binary,
            Arg::Text => DataType::Utf8,
            Arg::Date => DataType::Date32,
        }
    }

    fn accepts(self, t: &DataType) -> bool {
        match self {
            Arg::Num => t.is_numeric() || t.is_null(),
            Arg::Geom => matches!(
                t,
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Null
            ),
            Arg::Text => matches!(
                t,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
            ),
            Arg::Date => matches!(
                t,
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) | DataType::Null
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Arg::Num => "a number",
            Arg::Geom => "a geometry (WKB BINARY)",
            Arg::Text => "text",
            Arg::Date => "a date",
        }
    }
}

/// The kernel of a function: arrays of the coerced argument types (scalars expanded to the
/// batch's rows) in, one array of the return type out; or, for kernels that treat a scalar
/// argument specially (decode a literal polygon once), the values and the row count.
#[derive(Clone)]
pub enum Kernel {
    /// Over arrays.
    Arrays(fn(&[ArrayRef]) -> Result<ArrayRef>),
    /// Over values (scalars kept) and the number of rows.
    Values(fn(&[ColumnarValue], usize) -> Result<ArrayRef>),
    /// Over arrays, with state of the session (e.g. the kommune's own holidays).
    Shared(SharedKernel),
}

/// A kernel over arrays that holds state.
pub type SharedKernel = std::sync::Arc<dyn Fn(&[ArrayRef]) -> Result<ArrayRef> + Send + Sync>;

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kernel::Arrays(_) => "Kernel::Arrays",
            Kernel::Values(_) => "Kernel::Values",
            Kernel::Shared(_) => "Kernel::Shared",
        })
    }
}

/// A scalar function built from a kernel. Two are equal when their name and signature are:
/// a function's name identifies it in the registry.
#[derive(Debug)]
pub struct SimpleUdf {
    name: &'static str,
    /// Accepted argument lists (one per arity).
    arities: Vec<Vec<Arg>>,
    ret: DataType,
    signature: Signature,
    doc: Documentation,
    kernel: Kernel,
}

impl PartialEq for SimpleUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.arities == other.arities && self.ret == other.ret
    }
}
impl Eq for SimpleUdf {}
impl std::hash::Hash for SimpleUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.arities.hash(state);
    }
}

/// The documentation section of the project's functions.
pub const GEO: DocSection = DocSection {
    include: true,
    label: "Geo functions (mobility)",
    description: None,
};
/// The documentation section of the project's domain functions.
pub const DOMAIN: DocSection = DocSection {
    include: true,
    label: "Mobility functions",
    description: None,
};

/// Builds a function: name, argument lists, return type, documentation, kernel.
pub fn simple(
    name: &'static str,
    arities: Vec<Vec<Arg>>,
    ret: DataType,
    doc: Documentation,
    kernel: fn(&[ArrayRef]) -> Result<ArrayRef>,
) -> ScalarUDF {
    with_kernel(name, arities, ret, doc, Kernel::Arrays(kernel))
}

/// Builds a function whose kernel sees scalar arguments as scalars.
pub fn with_kernel(
    name: &'static str,
    arities: Vec<Vec<Arg>>,
    ret: DataType,
    doc: Documentation,
    kernel: Kernel,
) -> ScalarUDF {
    ScalarUDF::new_from_impl(SimpleUdf {
        name,
        arities,
        ret,
        signature: Signature::user_defined(Volatility::Immutable),
        doc,
        kernel,
    })
}

/// Checks argument types against argument lists and returns the coerced types.
pub fn coerce(name: &str, arities: &[Vec<Arg>], types: &[DataType]) -> Result<Vec<DataType>> {
    let Some(args) = arities.iter().find(|a| a.len() == types.len()) else {
        let n: Vec<String> = arities.iter().map(|a| a.len().to_string()).collect();
        return plan_err!(
            "{name} takes {} arguments, got {}",
            n.join(" or "),
            types.len()
        );
    };
    for (i, (a, t)) in args.iter().zip(types).enumerate() {
        if !a.accepts(t) {
            return plan_err!("{name}: argument {} must be {}, got {t}", i + 1, a.name());
        }
    }
    Ok(args.iter().map(|a| a.target()).collect())
}

impl ScalarUDFImpl for SimpleUdf {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }
    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(self.name, &self.arities, types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let out = match &self.kernel {
            Kernel::Arrays(f) => f(&ColumnarValue::values_to_arrays(&args.args)?)?,
            Kernel::Values(f) => f(&args.args, if all_scalar { 1 } else { args.number_rows })?,
            Kernel::Shared(f) => f(&ColumnarValue::values_to_arrays(&args.args)?)?,
        };
        if all_scalar && out.len() == 1 {
            return Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::try_from_array(&out, 0)?,
            ));
        }
        Ok(ColumnarValue::Array(out))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

/// An argument as DOUBLE.
pub fn num(a: &ArrayRef) -> Result<&Float64Array> {
    match a.as_primitive_opt::<Float64Type>() {
        Some(v) => Ok(v),
        None => exec_err!("expected DOUBLE, got {}", a.data_type()),
    }
}

/// An argument as BINARY.
pub fn geom(a: &ArrayRef) -> Result<&BinaryArray> {
    match a.as_binary_opt::<i32>() {
        Some(v) => Ok(v),
        None => exec_err!("expected BINARY, got {}", a.data_type()),
    }
}

/// An argument as VARCHAR.
pub fn text(a: &ArrayRef) -> Result<&StringArray> {
    match a.as_string_opt::<i32>() {
        Some(v) => Ok(v),
        None => exec_err!("expected VARCHAR, got {}", a.data_type()),
    }
}

/// Decodes the WKB of row `i` of a function's argument, or an execution error naming both.
pub fn decode(name: &str, arg: usize, bytes: &[u8]) -> Result<geo::Geometry<f64>> {
    mobility_geo::wkb::from_wkb(bytes)
        .or_else(|e| exec_err!("{name}: argument {arg} is not a valid geometry: {e}"))
}

/// An array builder result as `ArrayRef`.
pub fn arc(a: impl Array + 'static) -> ArrayRef {
    Arc::new(a)
}

/// Maps each row's geometry (NULL stays NULL) through `f` into a WKB column.
pub fn geom_to_geom(
    name: &str,
    a: &ArrayRef,
    f: impl Fn(geo::Geometry<f64>) -> Result<geo::Geometry<f64>>,
) -> Result<ArrayRef> {
    let g = geom(a)?;
    let mut b = arrow::array::BinaryBuilder::with_capacity(g.len(), g.value_data().len());
    for i in 0..g.len() {
        if g.is_null(i) {
            b.append_null();
            continue;
        }
        let out = f(decode(name, 1, g.value(i))?)?;
        match mobility_geo::wkb::to_wkb(&out) {
            Ok(w) => b.append_value(w),
            Err(e) => return exec_err!("{name}: {e}"),
        }
    }
    Ok(arc(b.finish()))
}

/// Each row's geometry (NULL stays NULL) through `f`.
fn geom_values<T>(
    name: &str,
    a: &ArrayRef,
    f: impl Fn(&geo::Geometry<f64>) -> T,
) -> Result<Vec<Option<T>>> {
    let g = geom(a)?;
    let mut out = Vec::with_capacity(g.len());
    for i in 0..g.len() {
        out.push(if g.is_null(i) {
            None
        } else {
            Some(f(&decode(name, 1, g.value(i))?))
        });
    }
    Ok(out)
}

/// Each row's date (NULL stays NULL) through `f`.
pub fn date_values<T>(a: &ArrayRef, f: impl Fn(chrono::NaiveDate) -> T) -> Result<Vec<Option<T>>> {
    let Some(d) = a.as_primitive_opt::<arrow::datatypes::Date32Type>() else {
        return exec_err!("expected DATE, got {}", a.data_type());
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    Ok((0..d.len())
        .map(|i| {
            d.is_valid(i)
                .then(|| f(epoch + chrono::TimeDelta::days(i64::from(d.value(i)))))
        })
        .collect())
}

/// Maps each row's geometry (NULL stays NULL) through `f` into a VARCHAR column.
pub fn geom_to_utf8(
    name: &str,
    a: &ArrayRef,
    f: impl Fn(&geo::Geometry<f64>) -> String,
) -> Result<ArrayRef> {
    Ok(arc(StringArray::from(geom_values(name, a, f)?)))
}

/// Maps each row's geometry (NULL stays NULL) through `f` into a BOOLEAN column.
pub fn geom_to_bool(
    name: &str,
    a: &ArrayRef,
    f: impl Fn(&geo::Geometry<f64>) -> bool,
) -> Result<ArrayRef> {
    Ok(arc(arrow::array::BooleanArray::from(geom_values(
        name, a, f,
    )?)))
}

/// Maps each row's geometry (NULL stays NULL) through `f` into a DOUBLE column.
pub fn geom_to_f64(
    name: &str,
    a: &ArrayRef,
    f: impl Fn(&geo::Geometry<f64>) -> f64,
) -> Result<ArrayRef> {
    Ok(arc(Float64Array::from(geom_values(name, a, f)?)))
}

/// A DOUBLE column of `metric(point1, point2)` over four lon/lat columns (NULL if any is NULL).
pub fn point_pairs(
    a: &[ArrayRef],
    metric: impl Fn(geo::Point<f64>, geo::Point<f64>) -> f64,
) -> Result<ArrayRef> {
    let (x1, y1, x2, y2) = (num(&a[0])?, num(&a[1])?, num(&a[2])?, num(&a[3])?);
    let out: Float64Array = (0..x1.len())
        .map(
            |i| match [x1, y1, x2, y2].map(|c| (!c.is_null(i)).then(|| c.value(i))) {
                [Some(a), Some(b), Some(c), Some(d)] => {
                    Some(metric(geo::Point::new(a, b), geo::Point::new(c, d)))
                }
                _ => None,
            },
        )
        .collect();
    Ok(arc(out))
}

/// An aggregate's state columns, (name, type) each, named as DataFusion names state columns.
pub fn state_fields(
    aggregate: &str,
    parts: &[(&str, DataType)],
) -> Vec<arrow::datatypes::FieldRef> {
    parts
        .iter()
        .map(|(n, t)| {
            Arc::new(arrow::datatypes::Field::new(
                datafusion::logical_expr::utils::format_state_name(aggregate, n),
                t.clone(),
                true,
            ))
        })
        .collect()
}

/// A DOUBLE result: NULL unless it is a finite number.
pub fn finite(v: Option<f64>) -> datafusion::common::ScalarValue {
    datafusion::common::ScalarValue::Float64(v.filter(|x| x.is_finite()))
}

/// A struct result of `fields` from one scalar per field (what the aggregates return).
pub fn struct_of(
    fields: arrow::datatypes::Fields,
    values: &[datafusion::common::ScalarValue],
) -> Result<datafusion::common::ScalarValue> {
    let arrays = values
        .iter()
        .map(|v| v.to_array())
        .collect::<Result<Vec<_>>>()?;
    Ok(datafusion::common::ScalarValue::Struct(Arc::new(
        arrow::array::StructArray::try_new(fields, arrays, None)?,
    )))
}
