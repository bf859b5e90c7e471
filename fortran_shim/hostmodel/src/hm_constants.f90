!> Physical constants and fixed dimensions of the landemu ELM/ILS-style host physics.
!!
!! One place for every number that is not a calibrated PFT parameter, so that a reader can
!! check units and sources in one file. Values follow CLM4.5/ELM (Oleson et al. 2013,
!! NCAR/TN-503+STR, "CLM4.5 technical note") unless another source is cited.
module hm_constants
  use, intrinsic :: iso_c_binding, only: c_double, c_int32_t, c_int64_t
  implicit none
  private

  integer, parameter, public :: dp = c_double    !! working real kind (IEEE double)

  ! ---- dimensions -----------------------------------------------------------------------
  integer, parameter, public :: nlevsoi = 10     !! soil layers (ELM hydrologically active layers)
  integer, parameter, public :: npft = 17        !! ELM natural+crop PFTs 0..16 (index 1..17 here)
  integer, parameter, public :: nparam = 12      !! calibrated MdPL parameters per PFT
  integer, parameter, public :: nforc = 7        !! forcing variables per column and step
  integer, parameter, public :: nmonth = 12      !! months of the monthly LAI/SAI climatology

  ! forcing order in every forcing record (landemu field names)
  integer, parameter, public :: if_fsds = 1      !! FSDS  incident shortwave (W m-2)
  integer, parameter, public :: if_flds = 2      !! FLDS  incident longwave (W m-2)
  integer, parameter, public :: if_tbot = 3      !! TBOT  air temperature (K)
  integer, parameter, public :: if_qbot = 4      !! QBOT  specific humidity (kg kg-1)
  integer, parameter, public :: if_wind = 5      !! WIND  wind speed (m s-1)
  integer, parameter, public :: if_psrf = 6      !! PSRF  surface pressure (Pa)
  integer, parameter, public :: if_prec = 7      !! PRECTmms total precipitation (kg m-2 s-1)

  ! ---- physical constants ---------------------------------------------------------------
  real(dp), parameter, public :: pi = 3.14159265358979323846_dp
  real(dp), parameter, public :: tfrz = 273.15_dp        !! freezing point (K)
  real(dp), parameter, public :: sb = 5.67e-8_dp         !! Stefan-Boltzmann (W m-2 K-4)
  real(dp), parameter, public :: grav = 9.80616_dp       !! gravity (m s-2)
  real(dp), parameter, public :: vkc = 0.4_dp            !! von Karman constant
  real(dp), parameter, public :: rgas = 8.31446_dp       !! universal gas constant (J mol-1 K-1)
  real(dp), parameter, public :: rair = 287.04_dp        !! dry-air gas constant (J kg-1 K-1)
  real(dp), parameter, public :: cpair = 1004.64_dp      !! dry-air heat capacity (J kg-1 K-1)
  real(dp), parameter, public :: hvap = 2.501e6_dp       !! latent heat of vaporisation (J kg-1)
  real(dp), parameter, public :: hfus = 3.337e5_dp       !! latent heat of fusion (J kg-1)
  real(dp), parameter, public :: hsub = hvap + hfus      !! latent heat of sublimation (J kg-1)
  real(dp), parameter, public :: denh2o = 1000._dp       !! liquid water density (kg m-3)
  real(dp), parameter, public :: cpliq = 4188._dp        !! liquid water heat capacity (J kg-1 K-1)
  real(dp), parameter, public :: cpice = 2117.27_dp      !! ice heat capacity (J kg-1 K-1)
  real(dp), parameter, public :: tkwat = 0.57_dp         !! water thermal conductivity (W m-1 K-1)
  real(dp), parameter, public :: tkice = 2.29_dp         !! ice thermal conductivity (W m-1 K-1)
  real(dp), parameter, public :: tkair = 0.023_dp        !! air thermal conductivity (W m-1 K-1)
  real(dp), parameter, public :: solar_const = 1361._dp  !! total solar irradiance (W m-2), Kopp & Lean 2011
  real(dp), parameter, public :: co2_ppm = 400._dp       !! atmospheric CO2 mole fraction (umol mol-1)
  real(dp), parameter, public :: o2_frac = 0.209_dp      !! atmospheric O2 mole fraction (mol mol-1)

  ! ---- surface constants ------------------------------------------------------------------
  real(dp), parameter, public :: zatm = 30._dp           !! forcing height above d + z0m (m), as CLM does for datm forcing
  real(dp), parameter, public :: z0m_soil = 0.01_dp      !! bare-soil momentum roughness (m), CLM4.5
  real(dp), parameter, public :: z0m_snow = 0.0024_dp    !! snow momentum roughness (m), CLM4.5
  real(dp), parameter, public :: z0m_ratio = 0.13_dp     !! z0m / vegetation height (Brutsaert 1982)
  real(dp), parameter, public :: displa_ratio = 0.67_dp  !! d / vegetation height (Brutsaert 1982)
  real(dp), parameter, public :: kb_inv = 2._dp          !! ln(z0m/z0h), kB^-1 (Garratt 1992)
  real(dp), parameter, public :: emis_veg = 0.98_dp      !! canopy emissivity
  real(dp), parameter, public :: emis_soil = 0.96_dp     !! soil emissivity
  real(dp), parameter, public :: emis_snow = 0.97_dp     !! snow emissivity
  real(dp), parameter, public :: denice_snow = 250._dp   !! bulk snow density (kg m-3)
  real(dp), parameter, public :: swe_layer_min = 1._dp   !! SWE (kg m-2) from which snow is its own thermal layer
  real(dp), parameter, public :: tau_leaf_vis = 0.05_dp  !! leaf visible transmittance (not calibrated), CLM4.5 pftcon
  real(dp), parameter, public :: rho_stem_vis = 0.16_dp  !! stem visible reflectance, CLM4.5 pftcon
  real(dp), parameter, public :: rho_stem_nir = 0.39_dp  !! stem NIR reflectance, CLM4.5 pftcon
  real(dp), parameter, public :: tau_stem_vis = 0.001_dp !! stem visible transmittance, CLM4.5 pftcon
  real(dp), parameter, public :: tau_stem_nir = 0.001_dp !! stem NIR transmittance, CLM4.5 pftcon
  real(dp), parameter, public :: alb_snow_vis = 0.90_dp  !! snow albedo, visible
  real(dp), parameter, public :: alb_snow_nir = 0.60_dp  !! snow albedo, near infrared
  real(dp), parameter, public :: h2ocan_per_lai = 0.1_dp !! canopy water capacity per unit L+S (kg m-2), CLM4.5
  real(dp), parameter, public :: psi_open_kpa = -5._dp   !! potential at which stomata are fully open (kPa)
  real(dp), parameter, public :: theta_min = 0.01_dp     !! smallest volumetric liquid water kept in a layer (m3 m-3)
  real(dp), parameter, public :: psi_min_m = -1.e5_dp    !! floor of the soil matric potential (m), CLM smpmin

  public :: esat_and_deriv, qsat_and_deriv

contains

  !> Saturation vapour pressure over water (T >= tfrz) or ice, and its temperature derivative.
  !! Magnus-type fits of Alduchov & Eskridge (1996) over water (T >= tfrz) and ice; continuous
  !! at tfrz so that the surface energy balance has a continuous residual.
  pure subroutine esat_and_deriv(t, es, des)
    real(dp), intent(in)  :: t     !! temperature (K)
    real(dp), intent(out) :: es    !! saturation vapour pressure (Pa)
    real(dp), intent(out) :: des   !! d es / d T (Pa K-1)
    real(dp) :: tc
    tc = t - tfrz
    if (tc >= 0._dp) then
      es = 610.94_dp * exp(17.625_dp * tc / (tc + 243.04_dp))
      des = es * 17.625_dp * 243.04_dp / (tc + 243.04_dp)**2
    else
      ! over ice; prefactor set to the over-water value so that es is continuous at tfrz
      es = 610.94_dp * exp(22.587_dp * tc / (tc + 273.86_dp))
      des = es * 22.587_dp * 273.86_dp / (tc + 273.86_dp)**2
    end if
  end subroutine esat_and_deriv

  !> Saturation specific humidity and its temperature derivative at pressure p.
  pure subroutine qsat_and_deriv(t, p, qs, dqs)
    real(dp), intent(in)  :: t     !! temperature (K)
    real(dp), intent(in)  :: p     !! air pressure (Pa)
    real(dp), intent(out) :: qs    !! saturation specific humidity (kg kg-1)
    real(dp), intent(out) :: dqs   !! d qs / d T (kg kg-1 K-1)
    real(dp) :: es, des, den
    call esat_and_deriv(t, es, des)
    den = p - 0.378_dp * es
    qs = 0.622_dp * es / den
    dqs = 0.622_dp * p * des / den**2
  end subroutine qsat_and_deriv

end module hm_constants
