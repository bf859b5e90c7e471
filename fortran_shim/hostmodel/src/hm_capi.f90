!> The C interface (bind(C)) of the host physics, used by the Python ctypes wrapper
!! (emulators/landmodel/) to run single columns and batches of columns in-process.
!!
!! Conventions: every function returns an int32 status (0 = ok, else an hm_err_* code) and
!! writes a NUL-terminated message into the caller's `msg` buffer (`msglen` bytes) on
!! failure. Arrays are per-column records, contiguous per column: a Fortran array
!! a(nrec, ncol[, nstep]) is the C array a[nstep][ncol][nrec]. Nothing is kept between calls
!! (no module state), so calls are re-entrant and batches can be split any way.
module hm_capi
  use, intrinsic :: iso_c_binding, only: c_int32_t, c_int64_t, c_double, c_char
  use hm_constants, only: dp, nlevsoi, npft, nparam, nforc, nmonth
  use hm_errors
  use hm_pft_params, only: param_names, param_units, param_lo, param_hi, group_defaults, &
       group_names, pft_names, pft_group, ngroup, default_params, validate_params
  use hm_soil, only: zsoi, dzsoi, zisoi
  use hm_solar, only: solar_geometry
  use hm_phenology, only: monthly_weights
  use hm_vegetation, only: default_monthly_lai, sai_from_lai
  use hm_column, only: nstate, nsurf, nout, out_names, out_units, column_step, column_init_state, &
       validate_forcing, validate_surface, validate_vegetation, validate_state, column_water_storage
  implicit none
  private

  public :: hm_layout, hm_name, hm_param_table, hm_default_params, hm_soil_layers, hm_validate, &
       hm_init_state, hm_step_column, hm_run_columns, hm_monthly_weights, hm_solar_geometry, &
       hm_water_storage, hm_default_vegetation

contains

  !> Sizes of the records: [nlevsoi, npft, nparam, nstate, nout, nforc, nsurf, nmonth, ngroup].
  function hm_layout(dims) bind(C, name='hm_layout') result(status)
    integer(c_int32_t), intent(out) :: dims(9)   !! the nine sizes
    integer(c_int32_t) :: status
    dims = int([nlevsoi, npft, nparam, nstate, nout, nforc, nsurf, nmonth, ngroup], c_int32_t)
    status = hm_ok
  end function hm_layout

  !> Name of item `idx` (1-based) of a list: kind 1 parameter, 2 output, 3 PFT, 4 forcing,
  !! 5 parameter group, 6 output units, 7 parameter units.
  function hm_name(kind, idx, buf, buflen) bind(C, name='hm_name') result(status)
    integer(c_int32_t), value, intent(in) :: kind     !! which list
    integer(c_int32_t), value, intent(in) :: idx      !! 1-based index into the list
    character(kind=c_char), intent(inout) :: buf(*)   !! receives the NUL-terminated name
    integer(c_int64_t), value, intent(in) :: buflen   !! capacity of buf
    integer(c_int32_t) :: status
    character(len=8), parameter :: forc_names(nforc) = [character(len=8) :: 'FSDS', 'FLDS', &
         'TBOT', 'QBOT', 'WIND', 'PSRF', 'PRECTmms']
    select case (kind)
    case (1)
      status = copy_item(param_names, idx, buf, buflen)
    case (2)
      status = copy_item(out_names, idx, buf, buflen)
    case (3)
      status = copy_item(pft_names, idx, buf, buflen)
    case (4)
      status = copy_item(forc_names, idx, buf, buflen)
    case (5)
      status = copy_item(group_names, idx, buf, buflen)
    case (6)
      status = copy_item(out_units, idx, buf, buflen)
    case (7)
      status = copy_item(param_units, idx, buf, buflen)
    case default
      status = hm_err_argument
    end select
  end function hm_name

  !> Ranges, group defaults and the ELM PFT -> group map.
  function hm_param_table(lo, hi, defaults, groups) bind(C, name='hm_param_table') result(status)
    real(c_double), intent(out) :: lo(nparam)                 !! lower bounds
    real(c_double), intent(out) :: hi(nparam)                 !! upper bounds
    real(c_double), intent(out) :: defaults(nparam, ngroup)   !! C [group][param]
    integer(c_int32_t), intent(out) :: groups(npft)           !! group (1..4, 0 = bare) of each PFT
    integer(c_int32_t) :: status
    lo = param_lo
    hi = param_hi
    defaults = group_defaults
    groups = int(pft_group, c_int32_t)
    status = hm_ok
  end function hm_param_table

  !> Default parameter records of all PFTs, C [pft][param].
  function hm_default_params(params) bind(C, name='hm_default_params') result(status)
    real(c_double), intent(out) :: params(nparam, npft)   !! parameters
    integer(c_int32_t) :: status
    call default_params(params)
    status = hm_ok
  end function hm_default_params

  !> ELM soil layer structure: node depths, thicknesses and lower interfaces (m).
  function hm_soil_layers(z, dz, zi) bind(C, name='hm_soil_layers') result(status)
    real(c_double), intent(out) :: z(nlevsoi)    !! node depths
    real(c_double), intent(out) :: dz(nlevsoi)   !! thicknesses
    real(c_double), intent(out) :: zi(nlevsoi)   !! depth of each layer's lower interface
    integer(c_int32_t) :: status
    z = zsoi
    dz = dzsoi
    zi = zisoi(1:nlevsoi)
    status = hm_ok
  end function hm_soil_layers

  !> Validate surface and parameter records of ncol columns.
  function hm_validate(ncol, surf, params, msg, msglen) bind(C, name='hm_validate') result(status)
    integer(c_int64_t), value, intent(in) :: ncol          !! number of columns
    real(c_double), intent(in) :: surf(nsurf, *)           !! surface records
    real(c_double), intent(in) :: params(nparam, npft, *)  !! parameter records
    character(kind=c_char), intent(inout) :: msg(*)        !! message buffer
    integer(c_int64_t), value, intent(in) :: msglen        !! capacity of msg
    integer(c_int32_t) :: status
    integer :: st
    integer(c_int64_t) :: c
    character(len=msg_len) :: m
    st = hm_ok
    m = ''
    do c = 1, ncol
      call validate_surface(surf(:, c), c, st, m)
      if (st /= hm_ok) exit
      call validate_params(params(:, :, c), c, st, m)
      if (st /= hm_ok) exit
    end do
    if (st /= hm_ok) call copy_msg_to_c(m, msg, msglen)
    status = int(st, c_int32_t)
  end function hm_validate

  !> Cold-start states of ncol columns.
  function hm_init_state(ncol, surf, tinit, wetness, state, msg, msglen) &
       bind(C, name='hm_init_state') result(status)
    integer(c_int64_t), value, intent(in) :: ncol     !! number of columns
    real(c_double), intent(in) :: surf(nsurf, *)      !! surface records
    real(c_double), intent(in) :: tinit(*)            !! initial temperature per column (K)
    real(c_double), value, intent(in) :: wetness      !! initial soil water / porosity
    real(c_double), intent(out) :: state(nstate, *)   !! state records
    character(kind=c_char), intent(inout) :: msg(*)   !! message buffer
    integer(c_int64_t), value, intent(in) :: msglen   !! capacity of msg
    integer(c_int32_t) :: status
    integer :: st
    integer(c_int64_t) :: c
    character(len=msg_len) :: m
    st = hm_ok
    m = ''
    do c = 1, ncol
      call validate_surface(surf(:, c), c, st, m)
      if (st /= hm_ok) exit
      if (.not. (tinit(c) >= 200._dp .and. tinit(c) <= 330._dp .and. wetness > 0._dp .and. &
           wetness <= 1._dp)) then
        st = hm_err_state
        m = 'initial temperature '//fmt_real(tinit(c))//' K of column '//fmt_int(c)// &
             ' or wetness '//fmt_real(wetness)//' is not plausible (expected 200-330 K, (0, 1])'
        exit
      end if
      call column_init_state(surf(:, c), tinit(c), wetness, state(:, c))
    end do
    if (st /= hm_ok) call copy_msg_to_c(m, msg, msglen)
    status = int(st, c_int32_t)
  end function hm_init_state

  !> One step of one column with the current LAI/SAI (the path the host program uses).
  function hm_step_column(doy, tod, dt, forc, surf, params, lai, sai, state, out, msg, msglen) &
       bind(C, name='hm_step_column') result(status)
    integer(c_int32_t), value, intent(in) :: doy      !! day of year at step start (1..366)
    real(c_double), value, intent(in) :: tod          !! seconds since 00 UTC at step start
    real(c_double), value, intent(in) :: dt           !! step length (s)
    real(c_double), intent(in) :: forc(nforc)         !! forcing record
    real(c_double), intent(in) :: surf(nsurf)         !! surface record
    real(c_double), intent(in) :: params(nparam, npft) !! parameters, C [pft][param]
    real(c_double), intent(in) :: lai(npft)           !! LAI per PFT
    real(c_double), intent(in) :: sai(npft)           !! SAI per PFT
    real(c_double), intent(inout) :: state(nstate)    !! state record, updated
    real(c_double), intent(out) :: out(nout)          !! outputs of the step
    character(kind=c_char), intent(inout) :: msg(*)   !! message buffer
    integer(c_int64_t), value, intent(in) :: msglen   !! capacity of msg
    integer(c_int32_t) :: status
    integer :: st
    integer(c_int64_t), parameter :: one = 1
    character(len=msg_len) :: m
    m = ''
    out = 0._dp
    st = check_step_args(doy, dt, m)
    if (st == hm_ok) call validate_surface(surf, one, st, m)
    if (st == hm_ok) call validate_params(params, one, st, m)
    if (st == hm_ok) call validate_vegetation(lai, sai, one, st, m)
    if (st == hm_ok) call validate_state(state, one, st, m)
    if (st == hm_ok) call column_step(one, int(doy), tod, dt, forc, surf, params, lai, sai, state, &
         out, st, m)
    if (st /= hm_ok) call copy_msg_to_c(m, msg, msglen)
    status = int(st, c_int32_t)
  end function hm_step_column

  !> nstep consecutive steps of ncol columns with per-column parameters and monthly LAI/SAI
  !! interpolated in time like ELM. Time advances in a noleap calendar from (doy0, tod0).
  function hm_run_columns(ncol, nstep, doy0, tod0, dt, forc, surf, params, mlai, msai, state, &
       out, msg, msglen) bind(C, name='hm_run_columns') result(status)
    integer(c_int64_t), value, intent(in) :: ncol           !! number of columns
    integer(c_int64_t), value, intent(in) :: nstep          !! number of steps
    integer(c_int32_t), value, intent(in) :: doy0           !! day of year of the first step
    real(c_double), value, intent(in) :: tod0               !! seconds of day of the first step
    real(c_double), value, intent(in) :: dt                 !! step length (s)
    real(c_double), intent(in) :: forc(nforc, ncol, nstep)  !! forcing, C [step][col][var]
    real(c_double), intent(in) :: surf(nsurf, ncol)         !! surface records
    real(c_double), intent(in) :: params(nparam, npft, ncol) !! parameters, C [col][pft][param]
    real(c_double), intent(in) :: mlai(npft, nmonth, ncol)  !! monthly LAI, C [col][month][pft]
    real(c_double), intent(in) :: msai(npft, nmonth, ncol)  !! monthly SAI, C [col][month][pft]
    real(c_double), intent(inout) :: state(nstate, ncol)    !! states, updated
    real(c_double), intent(out) :: out(nout, ncol, nstep)   !! outputs, C [step][col][var]
    character(kind=c_char), intent(inout) :: msg(*)         !! message buffer
    integer(c_int64_t), value, intent(in) :: msglen         !! capacity of msg
    integer(c_int32_t) :: status
    integer :: st, mon
    integer(c_int64_t) :: c, k
    integer, allocatable :: doys(:), m1(:), m2(:)
    real(dp), allocatable :: tods(:), w1(:)
    real(dp) :: tsec, lai(npft), sai(npft)
    integer(c_int64_t) :: days
    character(len=msg_len) :: m

    m = ''
    st = check_step_args(int(doy0), dt, m)
    if (st == hm_ok .and. (ncol < 0 .or. nstep < 0)) then
      st = hm_err_argument
      m = 'ncol and nstep must be >= 0'
    end if
    if (st /= hm_ok) then
      call copy_msg_to_c(m, msg, msglen)
      status = int(st, c_int32_t)
      return
    end if
    allocate (doys(nstep), tods(nstep), m1(nstep), m2(nstep), w1(nstep))
    do k = 1, nstep
      tsec = tod0 + real(k - 1, dp) * dt
      days = int(floor(tsec / 86400._dp), c_int64_t)
      tods(k) = tsec - real(days, dp) * 86400._dp
      doys(k) = int(modulo(int(doy0, c_int64_t) - 1 + days, 365_c_int64_t)) + 1
      call monthly_weights(doys(k), tods(k), m1(k), m2(k), w1(k))
    end do
    columns: do c = 1, ncol
      call validate_surface(surf(:, c), c, st, m)
      if (st == hm_ok) call validate_params(params(:, :, c), c, st, m)
      if (st == hm_ok) call validate_state(state(:, c), c, st, m)
      do mon = 1, nmonth
        if (st == hm_ok) call validate_vegetation(mlai(:, mon, c), msai(:, mon, c), c, st, m)
      end do
      if (st /= hm_ok) exit columns
      do k = 1, nstep
        lai = w1(k) * mlai(:, m1(k), c) + (1._dp - w1(k)) * mlai(:, m2(k), c)
        sai = w1(k) * msai(:, m1(k), c) + (1._dp - w1(k)) * msai(:, m2(k), c)
        call column_step(c, doys(k), tods(k), dt, forc(:, c, k), surf(:, c), params(:, :, c), &
             lai, sai, state(:, c), out(:, c, k), st, m)
        if (st /= hm_ok) then
          m = trim(m)//' (step '//fmt_int(k)//')'
          exit columns
        end if
      end do
    end do columns
    if (st /= hm_ok) call copy_msg_to_c(m, msg, msglen)
    status = int(st, c_int32_t)
  end function hm_run_columns

  !> Monthly interpolation weights (ELM interpMonthlyVeg) at an instant.
  function hm_monthly_weights(doy, tod, m1, m2, w1) bind(C, name='hm_monthly_weights') result(status)
    integer(c_int32_t), value, intent(in) :: doy    !! day of year
    real(c_double), value, intent(in) :: tod        !! seconds of day
    integer(c_int32_t), intent(out) :: m1           !! first month (1..12)
    integer(c_int32_t), intent(out) :: m2           !! second month (1..12)
    real(c_double), intent(out) :: w1               !! weight of m1
    integer(c_int32_t) :: status
    integer :: a, b
    call monthly_weights(int(doy), tod, a, b, w1)
    m1 = int(a, c_int32_t)
    m2 = int(b, c_int32_t)
    status = hm_ok
  end function hm_monthly_weights

  !> Cosine of the solar zenith angle and the eccentricity factor (Spencer 1971).
  function hm_solar_geometry(lat, lon, doy, tod, coszen, ecc) &
       bind(C, name='hm_solar_geometry') result(status)
    real(c_double), value, intent(in) :: lat        !! latitude (degrees)
    real(c_double), value, intent(in) :: lon        !! longitude (degrees)
    integer(c_int32_t), value, intent(in) :: doy    !! day of year
    real(c_double), value, intent(in) :: tod        !! seconds since 00 UTC
    real(c_double), intent(out) :: coszen           !! cosine of the zenith angle
    real(c_double), intent(out) :: ecc              !! Sun-Earth distance factor
    integer(c_int32_t) :: status
    call solar_geometry(lat, lon, int(doy), tod, coszen, ecc)
    status = hm_ok
  end function hm_solar_geometry

  !> Total water storage (kg m-2) of ncol columns.
  function hm_water_storage(ncol, surf, state, w) bind(C, name='hm_water_storage') result(status)
    integer(c_int64_t), value, intent(in) :: ncol     !! number of columns
    real(c_double), intent(in) :: surf(nsurf, *)      !! surface records
    real(c_double), intent(in) :: state(nstate, *)    !! state records
    real(c_double), intent(out) :: w(*)               !! storage per column (kg m-2)
    integer(c_int32_t) :: status
    integer(c_int64_t) :: c
    do c = 1, ncol
      w(c) = column_water_storage(surf(:, c), state(:, c))
    end do
    status = hm_ok
  end function hm_water_storage

  !> Default monthly LAI and SAI (hm_vegetation) of ncol columns at latitudes lat.
  function hm_default_vegetation(ncol, lat, mlai, msai) bind(C, name='hm_default_vegetation') &
       result(status)
    integer(c_int64_t), value, intent(in) :: ncol        !! number of columns
    real(c_double), intent(in) :: lat(*)                 !! latitude per column (degrees)
    real(c_double), intent(out) :: mlai(npft, nmonth, *) !! monthly LAI, C [col][month][pft]
    real(c_double), intent(out) :: msai(npft, nmonth, *) !! monthly SAI, C [col][month][pft]
    integer(c_int32_t) :: status
    integer(c_int64_t) :: c
    do c = 1, ncol
      call default_monthly_lai(lat(c), mlai(:, :, c))
      call sai_from_lai(mlai(:, :, c), msai(:, :, c))
    end do
    status = hm_ok
  end function hm_default_vegetation

  !> Copy item `idx` (1-based) of `items` into buf (hm_name); buf is left alone when idx is
  !! outside the list.
  function copy_item(items, idx, buf, buflen) result(status)
    character(len=*), intent(in) :: items(:)          !! the list
    integer(c_int32_t), intent(in) :: idx             !! 1-based index into the list
    character(kind=c_char), intent(inout) :: buf(*)   !! receives the NUL-terminated item
    integer(c_int64_t), intent(in) :: buflen          !! capacity of buf
    integer(c_int32_t) :: status
    status = hm_err_argument
    if (idx < 1 .or. idx > size(items)) return
    call copy_msg_to_c(items(idx), buf, buflen)
    status = hm_ok
  end function copy_item

  !> Shared checks of the time arguments.
  function check_step_args(doy, dt, m) result(st)
    integer, intent(in) :: doy
    real(dp), intent(in) :: dt
    character(len=msg_len), intent(inout) :: m
    integer :: st
    st = hm_ok
    if (doy < 1 .or. doy > 366) then
      st = hm_err_argument
      m = 'day of year '//fmt_int(int(doy, c_int64_t))//' is outside 1..366'
    else if (.not. (dt >= 60._dp .and. dt <= 86400._dp)) then
      st = hm_err_argument
      m = 'time step '//fmt_real(dt)//' s is outside [60, 86400] s'
    end if
  end function check_step_args

end module hm_capi
